export { AUTO_ORDER, BACKEND_NAMES, describeBackend, selectBackend, type BackendName, type BackendReport } from './select.js';
