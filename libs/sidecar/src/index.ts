export { Sidecar, startSidecar } from './sidecar.js';
export { isLoopback, SIDECAR_OPTION_NAMES, type SidecarOptions } from './options.js';
export { CLI_FLAGS, cliUsage, parseCli } from './cli-options.js';
export { RespParser, ProtocolError, type ParserLimits, type Request } from './resp/parser.js';
export { globMatch } from './resp/glob.js';
