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
  /** Line count before the last edit: markers below an edit move with their lines. */
  let lineCount = 1;
  /** @type {{ li: HTMLElement, line: number }[]} */
  let items = [];

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
    // setSelectionRange does not scroll a textarea: put the line a third of the way down.
    const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 19;
    textarea.scrollTop = Math.max(0, (line - 1) * lineHeight - textarea.clientHeight / 3);
    gutter.scrollTop = textarea.scrollTop;
  }

  /**
   * Lines were added or removed just above the caret: the markers (and the list's line numbers) of the lines
   * after the edit move with them; markers on removed lines go.
   */
  function followEdit() {
    const n = textarea.value.split('\n').length;
    const delta = n - lineCount;
    lineCount = n;
    if (delta === 0 || (errorLines.size === 0 && items.length === 0)) return;
    const caretLine = textarea.value.slice(0, textarea.selectionStart).split('\n').length;
    // Lines at or after `from` (old numbering) moved by delta; with delta < 0, old lines [caretLine+1, from) are gone.
    const from = delta > 0 ? caretLine - delta + 1 : caretLine + 1 - delta;
    /** @param {number} l */
    const move = (l) => (l < from ? (delta < 0 && l > caretLine ? undefined : l) : l + delta);
    errorLines = new Set([...errorLines].flatMap((l) => (move(l) === undefined ? [] : [/** @type {number} */ (move(l))])));
    for (const it of items) {
      const m = move(it.line);
      if (m === undefined) it.li.remove();
      else if (m !== it.line) {
        it.line = m;
        const where = it.li.querySelector('.where');
        if (where) where.textContent = where.textContent?.replace(/^line \d+/, `line ${m}`) ?? '';
      }
    }
  }

  textarea.addEventListener('input', () => {
    followEdit();
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
      lineCount = text.split('\n').length;
      renderGutter();
    },
    refresh: renderGutter,
    /** Shows the problems of the last save (or of the file on disk); [] clears them. @param {RuleError[]} errors */
    markErrors(errors) {
      errorLines = new Set(errors.flatMap((e) => (e.line === undefined ? [] : [e.line])));
      lineCount = textarea.value.split('\n').length;
      items = [];
      list.replaceChildren(
        ...errors.map((e) => {
          const where = e.line === undefined ? e.path : `line ${e.line}${e.column ? `:${e.column}` : ''}`;
          const li = el('li', {}, el('span', { class: 'where', text: where }), e.line === undefined ? e.message : `${e.path}: ${e.message}`);
          if (e.line !== undefined) {
            const item = { li, line: e.line };
            items.push(item);
            // A button's behaviour for keyboards too: focusable, Enter and Space.
            li.tabIndex = 0;
            li.setAttribute('role', 'button');
            li.addEventListener('click', () => selectLine(item.line));
            li.addEventListener('keydown', (k) => {
              if (k.key === 'Enter' || k.key === ' ') {
                k.preventDefault();
                selectLine(item.line);
              }
            });
          }
          return li;
        }),
      );
      renderGutter();
    },
  };
}
