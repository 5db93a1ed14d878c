/** The monthly operator report: data model, HTML rendering, PDF printing and its HTTP route. */
export * from './config.js';
export * from './errors.js';
export { DEFAULT_REPORT_LANG, REPORT_LANGS, type ReportLang } from './messages.js';
export * from './model.js';
export { renderMonthlyReportHtml } from './html.js';
export * from './pdf.js';
export * from './plugin.js';
