export { parsePrototxt, printPrototxt, lineCol, MAX_DEPTH } from './parse';
export type { Span, PtScalar, PtList, PtMessage, PtField, PtDocument } from './parse';
export { fields, field, message, messages, str, strs, num, nums, bool, scalarText, scalarNumber, quote } from './read';
export { PrototxtEditor, detectIndentUnit } from './edit';
