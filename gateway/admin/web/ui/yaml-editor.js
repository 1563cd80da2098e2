// @ts-check
import { el } from './util.js';

/**
 * The raw YAML tab: a textarea with a line-number gutter whose lines turn red where the gateway reported a
 * problem, and the list of problems below it (a click selects the line).
 *
 * @typedef {{ path: string, line?: number, column?: number, message: string }} RuleError
 * @param {{ textarea: HTMLTextAreaElement, gutter: HTMLElement, list: HTMLElement, onInput: () => void }} parts
 */
export function yamlEditor({ textarea, gutter, list, onInput }) {
  /** @type {Set<number>} */
  let errorLines = new Set();

  function renderGutter() {
    const n = textarea.value.split('\n').length;
    const lines = [];
    for (let i = 1; i <= n; i++) {
      const d = el('div', { text: String(i) });
      if (errorLines.has(i)) d.className = 'err';
      lines.push(d);
    }
    gutter.replaceChildren(...lines);
    gutter.scrollTop = textarea.scrollTop;
  }

  /** @param {number} line */
  function selectLine(line) {
    const lines = textarea.value.split('\n');
    const start = lines.slice(0, line - 1).reduce((s, l) => s + l.length + 1, 0);
    textarea.focus();
    textarea.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
  }

  textarea.addEventListener('input', () => {
    onInput();
    renderGutter();
  });
  textarea.addEventListener('scroll', () => {
    gutter.scrollTop = textarea.scrollTop;
  });

  return {
    get text() {
      return textarea.value;
    },
    /** @param {string} text */
    set text(text) {
      textarea.value = text;
      renderGutter();
    },
    refresh: renderGutter,
    /** Shows the problems of the last save (or of the file on disk); [] clears them. @param {RuleError[]} errors */
    markErrors(errors) {
      errorLines = new Set(errors.flatMap((e) => (e.line === undefined ? [] : [e.line])));
      list.replaceChildren(
        ...errors.map((e) => {
          const where = e.line === undefined ? e.path : `line ${e.line}${e.column ? `:${e.column}` : ''}`;
          const li = el('li', {}, el('span', { class: 'where', text: where }), e.line === undefined ? e.message : `${e.path}: ${e.message}`);
          const line = e.line;
          if (line !== undefined) li.addEventListener('click', () => selectLine(line));
          return li;
        }),
      );
      renderGutter();
    },
  };
}
