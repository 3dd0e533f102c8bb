'use strict';
// CommonJS entry: the package is ES modules; Node.js 20.19 and later load them with require().
// Re-exporting the one ES module instance keeps a single copy of every class and token.
module.exports = require('../dist/index.js');
