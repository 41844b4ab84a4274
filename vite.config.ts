import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Everything is served from this origin; nothing is fetched from elsewhere at run time.
export default defineConfig({
  plugins: [react()],
  base: './',
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: true },
  preview: { port: 5173, strictPort: true },
});
