// <agent-activity>: what a task's agent does, live: the model's messages as they stream, the tools it
// calls and what they gave. `apply(type, data)` takes the stream's agent.* events (docs/events.md) in
// order; a board opened late replays them from the first, and shows the same.
//
// The card stays one size while the agent works: a two-line summary of the latest entry is always
// shown, and the whole log opens from a disclosure button, scrolling within a bounded height. A
// message is assembled from its deltas by offset (offset 0 again: a retried turn starts over) and
// replaced by the complete message. Text only ever goes in through textContent.

// What each tool's arguments are mostly about: the short form shows that one.
const MAIN_ARGUMENT = { run_command: 'command', read_file: 'path', write_file: 'path', finish: 'summary' };
const CALL_CHARS = 120;
const RESULT_LINES = 4;

export const STOP_REASONS = Object.freeze({
  step_cap: 'step cap reached',
  time_cap: 'time cap reached',
  token_budget: 'token budget used up',
  cost_budget: 'cost budget used up',
  tool_errors: 'too many malformed tool calls',
});

export function stopReason(reason) {
  return STOP_REASONS[reason] || String(reason || 'stopped').replaceAll('_', ' ');
}

function oneLine(text) {
  return String(text).replace(/\s+/g, ' ').trim();
}

function clip(text, chars) {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

/** `run_command: python3 test_calc.py`: the tool and the gist of its arguments, on one line. */
export function shortCall(name, args) {
  let gist;
  if (typeof args === 'string') gist = args; // not a JSON object: shown as the model sent it
  else if (args && typeof args === 'object') {
    const main = MAIN_ARGUMENT[name];
    gist =
      main && typeof args[main] === 'string'
        ? args[main]
        : Object.entries(args)
            .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
            .join(' ');
  } else gist = '';
  return clip(oneLine(`${name}: ${gist}`), CALL_CHARS);
}

/** The last few lines of a result's output, without the "exit code: N" line the model is sent first. */
export function resultLines(output) {
  const text = String(output || '')
    .replace(/^exit code: -?\d+\n?/, '')
    .replace(/\s+$/, '');
  if (!text) return [];
  const lines = text.split('\n');
  if (lines.length <= RESULT_LINES) return lines;
  const more = lines.length - RESULT_LINES;
  return [`… ${more} more line${more === 1 ? '' : 's'}`, ...lines.slice(-RESULT_LINES)];
}

function outcomeOf({ exit_code: exitCode, error }) {
  if (error) return { outcome: 'error', text: 'malformed call' };
  if (exitCode === null || exitCode === undefined) return { outcome: 'ok', text: 'done' };
  return { outcome: exitCode === 0 ? 'ok' : 'failed', text: `exit ${exitCode}` };
}

let instances = 0;

export class AgentActivity extends HTMLElement {
  constructor() {
    super();
    this._built = false;
    this._entries = []; // {kind, el, ...}, in order
    this._open = null; // the message entry its deltas are still filling
    this._calls = new Map(); // tool call id -> its entry
    this._label = '';
  }

  connectedCallback() {
    this._build();
  }

  _build() {
    if (this._built) return;
    this._built = true;
    instances += 1;
    const logId = `agent-activity-${instances}`;
    this.hidden = true; // until the agent does something
    this.dataset.state = 'idle';

    this._toggle = document.createElement('button');
    this._toggle.type = 'button';
    this._toggle.className = 'agent-activity__toggle';
    this._toggle.dataset.testid = 'agent-activity-toggle';
    this._toggle.setAttribute('aria-expanded', 'false');
    this._toggle.setAttribute('aria-controls', logId);
    this._toggleText = document.createElement('span');
    this._toggleText.textContent = 'Agent activity';
    this._count = document.createElement('span');
    this._count.className = 'agent-activity__count';
    this._of = document.createElement('span');
    this._of.className = 'visually-hidden';
    this._toggle.append(this._toggleText, this._count, this._of);
    this._toggle.addEventListener('click', () => {
      this.expanded = !this.expanded;
    });

    this._latest = document.createElement('p');
    this._latest.className = 'agent-activity__latest';
    this._latest.dataset.testid = 'agent-latest';

    this._log = document.createElement('div');
    this._log.id = logId;
    this._log.className = 'agent-activity__log';
    this._log.setAttribute('role', 'log');
    this._log.tabIndex = 0; // focusable, so keyboard users can scroll it
    this._log.hidden = true;
    this._list = document.createElement('ol');
    this._log.append(this._list);

    this.append(this._toggle, this._latest, this._log);
    this._labelParts();
  }

  /** The task's title, for the names of the button and the log. */
  set label(title) {
    this._label = title || '';
    this._build();
    this._labelParts();
  }

  _labelParts() {
    // The button's name says whose activity it is, after what it shows.
    this._of.textContent = this._label ? ` of ${this._label}` : '';
    this._log.setAttribute('aria-label', this._label ? `Agent activity: ${this._label}` : 'Agent activity');
  }

  get expanded() {
    return this._built && this._toggle.getAttribute('aria-expanded') === 'true';
  }

  set expanded(value) {
    this._build();
    this._toggle.setAttribute('aria-expanded', String(Boolean(value)));
    this._log.hidden = !value;
    if (value) this._log.scrollTop = this._log.scrollHeight;
  }

  /** Forget the run shown (a reopened task starts afresh). */
  clear() {
    this._build();
    this._entries = [];
    this._open = null;
    this._calls.clear();
    this._list.replaceChildren();
    this._latest.textContent = '';
    this._count.textContent = '';
    this._log.removeAttribute('aria-busy');
    this.dataset.state = 'idle';
    this.hidden = true;
  }

  /** One agent.* event of the stream: its type and its data. */
  apply(type, data) {
    this._build();
    if (!data) return;
    const stick = this._log.scrollTop + this._log.clientHeight >= this._log.scrollHeight - 4;
    if (type === 'agent.message') this._message(data);
    else if (type === 'agent.tool_call') this._toolCall(data);
    else if (type === 'agent.tool_result') this._toolResult(data);
    else if (type === 'agent.finished') this._end('finished', `Finished: ${data.summary || '(no summary)'}`);
    else if (type === 'agent.stopped') this._end('stopped', `Stopped (${stopReason(data.reason)}): ${data.message || ''}`);
    else return;
    this.hidden = false;
    this._count.textContent = ` (${this._entries.length})`;
    this._showLatest();
    if (stick && !this._log.hidden) this._log.scrollTop = this._log.scrollHeight;
  }

  _add(kind, testid) {
    const el = document.createElement('li');
    el.className = `agent-activity__entry agent-activity__entry--${kind}`;
    el.dataset.kind = kind;
    el.dataset.testid = testid;
    this._list.append(el);
    const entry = { kind, el };
    this._entries.push(entry);
    return entry;
  }

  _message({ step, text, offset, complete }) {
    let entry = this._open && this._open.step === step ? this._open : null;
    if (!entry) {
      entry = this._add('message', 'agent-message');
      entry.step = step;
      entry.text = '';
      entry.el.dataset.step = String(step);
    }
    if (complete) {
      entry.text = String(text ?? '');
      this._open = null;
    } else {
      // In order, a delta starts where the text so far ends; one starting earlier (a retried turn
      // starts over at 0) takes the place of what was there.
      const start = Math.min(Math.max(Number(offset) || 0, 0), entry.text.length);
      entry.text = entry.text.slice(0, start) + String(text ?? '');
      this._open = entry;
    }
    entry.el.dataset.complete = String(Boolean(complete));
    entry.el.textContent = entry.text;
    this.dataset.state = complete ? 'thinking' : 'streaming';
    if (complete) this._log.removeAttribute('aria-busy');
    else this._log.setAttribute('aria-busy', 'true'); // read the message once it is whole
  }

  _toolCall({ id, name, arguments: args }) {
    this._closeMessage();
    const entry = this._add('tool', 'agent-tool-call');
    entry.call = shortCall(name, args);
    const call = document.createElement('code');
    call.className = 'agent-activity__call';
    call.textContent = entry.call;
    entry.el.append(call);
    entry.el.dataset.tool = name;
    if (id) this._calls.set(id, entry);
    this.dataset.state = 'tool';
  }

  _toolResult(data) {
    let entry = data.id ? this._calls.get(data.id) : null;
    if (!entry) {
      // A result whose call this view never saw: shown on its own.
      this._toolCall({ id: data.id, name: data.name, arguments: '' });
      entry = this._calls.get(data.id) || this._entries[this._entries.length - 1];
    }
    entry.el.querySelector('.agent-activity__result')?.remove();
    const { outcome, text } = outcomeOf(data);
    const result = document.createElement('div');
    result.className = 'agent-activity__result';
    result.dataset.testid = 'agent-tool-result';
    result.dataset.outcome = outcome;
    if (data.exit_code !== null && data.exit_code !== undefined) result.dataset.exitCode = String(data.exit_code);
    const status = document.createElement('span');
    status.className = 'agent-activity__outcome';
    status.textContent = text;
    result.append(status);
    const lines = resultLines(data.output);
    if (lines.length) {
      const output = document.createElement('pre');
      output.className = 'agent-activity__output';
      output.textContent = lines.join('\n');
      result.append(output);
    }
    entry.el.append(result);
    entry.result = `${text}${lines.length ? `: ${lines[lines.length - 1]}` : ''}`;
    this.dataset.state = 'thinking';
  }

  _end(kind, text) {
    this._closeMessage();
    const entry = this._add(kind, `agent-${kind}`);
    entry.text = text;
    entry.el.textContent = text;
    this.dataset.state = kind;
  }

  _closeMessage() {
    this._open = null;
    this._log.removeAttribute('aria-busy');
  }

  _showLatest() {
    const last = this._entries[this._entries.length - 1];
    let text = '';
    if (last.kind === 'tool') text = last.result ? `${last.call} → ${last.result}` : last.call;
    else text = oneLine(last.text);
    this._latest.textContent = text;
    this._latest.dataset.kind = last.kind;
  }
}

if (!customElements.get('agent-activity')) customElements.define('agent-activity', AgentActivity);
