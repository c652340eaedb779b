// Init script for board tests: records what the page receives over SSE and every state the sandbox
// badges show, so a test can assert on the whole sequence afterwards even when the fakes run the
// pipeline faster than any poll could see it. Runs before the board's own scripts in every document.
(() => {
  const recorded = { streams: [], events: [], sandbox: [] };
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

  new MutationObserver((mutations) => {
    for (const mutation of mutations) {
      const badge = mutation.target;
      if (badge.localName !== 'sandbox-status') continue;
      const card = badge.closest('task-card');
      recorded.sandbox.push({ taskId: card ? card.dataset.taskId : null, status: badge.dataset.status });
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-status'] });
})();
