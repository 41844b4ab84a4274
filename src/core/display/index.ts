export * from './categories';
export * from './format';
export * from './files';
