// `node --import ./test/support/module-trace.mjs ...`: appends `<thread> <url>` for every module the process (main
// thread and workers: they inherit --import) resolves to the file named by MODULE_TRACE_FILE, in resolution order.
// Registered through node:module's register (Node docs, "Customization Hooks"); plain JavaScript, for the child
// process runs without tsx.
import { register } from 'node:module';
import process from 'node:process';
import { isMainThread } from 'node:worker_threads';

const hooks = `
import { appendFileSync } from 'node:fs';
let file;
let thread;
export function initialize(data) {
  file = data.file;
  thread = data.thread;
}
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(file, thread + ' ' + r.url + '\\n');
  return r;
}
`;
if (process.env.MODULE_TRACE_FILE) {
  register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { file: process.env.MODULE_TRACE_FILE, thread: isMainThread ? 'main' : 'worker' } });
}
