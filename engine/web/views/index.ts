/**
 * The pages, rendered on the server from the objects of data.ts, one module
 * per group. Forms that change state carry the session's CSRF value and are
 * shown only to a logged-in browser.
 */
export type { Viewer } from './common.js';
export { dagListPage, dagPage, PARAM_FIELD } from './dags.js';
export { clearConfirmPage, markConfirmPage, runPage, runsPage } from './runs.js';
export { sourcePage, taskPage } from './tasks.js';
export { errorPage, loginPage } from './pages.js';
