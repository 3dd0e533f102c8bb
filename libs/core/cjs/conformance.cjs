'use strict';
// CommonJS entry of the contract suite: the same ES module instance, loaded with require().
module.exports = require('../dist/conformance/index.js');
