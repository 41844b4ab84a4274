import { ReactFlowProvider } from '@xyflow/react';
import { GraphView } from './GraphView';
import { SidePanel } from './SidePanel';
import { Toolbar } from './Toolbar';

export function Workspace() {
  return (
    <div className="workspace">
      <Toolbar />
      <div className="workspace-body">
        <ReactFlowProvider>
          <GraphView />
        </ReactFlowProvider>
        <SidePanel />
      </div>
    </div>
  );
}
