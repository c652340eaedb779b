// <agent-usage>: what a task's agent spent on the LLM, in tokens and USD, all its runs together.
//
// Two sources say it: the task API's totals (`showTask(task)`, when the board loads: a finished
// task's card shows its cost) and the stream's agent.usage events (`record(data)`, live), each the
// totals of one run so far. A run's turns count up from step 1, so a usage event whose step does not
// follow the last one is a new run's: the earlier run's totals are kept and the new one's added.
// What a task spent only ever grows, so the card shows the larger of the two sources' figures: a
// board replaying old events does not count down from what the API already said.

const TOKENS = new Intl.NumberFormat('en');
const DOLLARS = new Intl.NumberFormat('en', { style: 'currency', currency: 'USD', minimumFractionDigits: 2 });
// Under a cent, two significant digits say more than "$0.00".
const CENTS = new Intl.NumberFormat('en', { style: 'currency', currency: 'USD', maximumSignificantDigits: 2 });

export function formatCost(usd) {
  const value = Number(usd) || 0;
  return value > 0 && value < 0.01 ? CENTS.format(value) : DOLLARS.format(value);
}

/** @typedef {{ prompt: number, completion: number, cost: number }} Spend */

/** @type {Readonly<Spend>} */
const ZERO = Object.freeze({ prompt: 0, completion: 0, cost: 0 });

function spend(data) {
  return {
    prompt: Number(data?.prompt_tokens) || 0,
    completion: Number(data?.completion_tokens) || 0,
    cost: Number(data?.cost_usd) || 0,
  };
}

function plus(a, b) {
  return { prompt: a.prompt + b.prompt, completion: a.completion + b.completion, cost: a.cost + b.cost };
}

function larger(a, b) {
  return {
    prompt: Math.max(a.prompt, b.prompt),
    completion: Math.max(a.completion, b.completion),
    cost: Math.max(a.cost, b.cost),
  };
}

export class AgentUsage extends HTMLElement {
  constructor() {
    super();
    this._fromTask = ZERO;
    this._earlierRuns = ZERO;
    this._run = ZERO;
    this._lastStep = 0;
    this._estimated = false;
  }

  connectedCallback() {
    this.render();
  }

  /** The task API's totals (prompt_tokens, completion_tokens, cost_usd). */
  showTask(task) {
    this._fromTask = larger(this._fromTask, spend(task));
    this.render();
  }

  /** An agent.usage event: the totals of its run so far. */
  record(data) {
    const step = Number(data?.step) || 0;
    if (step <= this._lastStep) this._earlierRuns = plus(this._earlierRuns, this._run);
    this._lastStep = step;
    this._run = spend(data);
    this._estimated = Boolean(data?.estimated);
    this.render();
  }

  get totals() {
    return larger(this._fromTask, plus(this._earlierRuns, this._run));
  }

  render() {
    const { prompt, completion, cost } = this.totals;
    const tokens = prompt + completion;
    this.hidden = tokens === 0 && cost === 0;
    this.dataset.totalTokens = String(tokens);
    this.dataset.costUsd = String(cost);
    const about = this._estimated ? '≈ ' : '';
    this.replaceChildren();
    const hidden = (text) => {
      const span = document.createElement('span');
      span.className = 'visually-hidden';
      span.textContent = text;
      return span;
    };
    const shown = document.createElement('span');
    shown.textContent = `${about}${TOKENS.format(tokens)} tokens · ${formatCost(cost)}`;
    this.append(
      hidden('LLM usage: '),
      shown,
      hidden(
        ` (${TOKENS.format(prompt)} prompt and ${TOKENS.format(completion)} completion tokens` +
          `${this._estimated ? ', estimated' : ''})`,
      ),
    );
  }
}

if (!customElements.get('agent-usage')) customElements.define('agent-usage', AgentUsage);
