/** The admin module's facade. */
export { startAdminServer, parseAdminAddress, type AdminControl, type AdminServer } from './admin-server.ts';
