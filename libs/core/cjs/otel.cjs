'use strict';
// CommonJS entry of the OpenTelemetry metrics: the same ES module instance, loaded with require().
module.exports = require('../dist/otel.js');
