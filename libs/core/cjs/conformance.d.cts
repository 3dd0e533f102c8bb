export * from '../dist/conformance/index.js';
