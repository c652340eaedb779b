// Init script for board tests: records what the page receives over SSE and every value the live parts
// of the board show (card column, sandbox badge, progress bar, connection indicator, the agent's
// activity and its tokens), so a test can
// assert on the whole sequence afterwards even when the fakes run the pipeline faster than any poll
// could see it. Runs before the board's own scripts in every document.
(() => {
  const recorded = { streams: [], events: [], changes: [] };
  Object.defineProperty(window, '__boardRecording', { value: recorded });

  const NativeEventSource = window.EventSource;
  window.EventSource = class RecordingEventSource extends NativeEventSource {
    constructor(url, init) {
      super(url, init);
      recorded.streams.push(String(url));
      this.addEventListener('message', (message) => {
        try {
          recorded.events.push(JSON.parse(message.data));
        } catch {
          recorded.events.push({ unparsed: message.data });
        }
      });
    }
  };

  // The attribute that carries each watched element's visible state.
  const WATCHED = {
    'task-card': 'data-status',
    'sandbox-status': 'data-status',
    'progress-bar': 'aria-valuenow',
    'connection-status': 'data-state',
    'agent-activity': 'data-state',
    'agent-usage': 'data-total-tokens',
  };

  // Several changes can land before one observer callback, and by then the element shows only the
  // last. Each record's oldValue is the value before its change, so the value after change i is the
  // oldValue of the next change of the same attribute, and after the last one the current value.
  new MutationObserver((mutations) => {
    const relevant = mutations.filter((m) => WATCHED[m.target.localName] === m.attributeName);
    relevant.forEach((mutation, index) => {
      const element = mutation.target;
      const next = relevant.slice(index + 1).find((later) => later.target === element);
      const value = next ? next.oldValue : element.getAttribute(mutation.attributeName);
      const card = element.localName === 'task-card' ? element : element.closest('task-card');
      recorded.changes.push({ component: element.localName, taskId: card ? card.dataset.taskId : null, value });
    });
  }).observe(document, {
    subtree: true,
    attributes: true,
    attributeOldValue: true,
    attributeFilter: Array.from(new Set(Object.values(WATCHED))),
  });
})();
