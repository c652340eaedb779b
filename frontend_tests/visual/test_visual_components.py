"""Each component's looks, in the states the board puts it in, alone on a page with the board's CSS."""

import pytest

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]

TASK = {"id": "t1", "title": "Add a health badge", "status": "todo", "agent_id": None, "pr_url": None, "error": None}


def test_connection_status_looks_as_before(component_looks_as_before):
    states = ("connecting", "live", "reconnecting")
    body = "".join(f'<p><connection-status state="{state}"></connection-status></p>' for state in states)
    component_looks_as_before("connection-status", body)


def test_sandbox_status_looks_as_before(component_looks_as_before):
    states = ["", "creating", "ready", "running", "pushing", "done", "failed"]
    body = "".join(f'<p><sandbox-status status="{state}"></sandbox-status></p>' for state in states)
    component_looks_as_before("sandbox-status", body)


def test_progress_bar_looks_as_before(component_looks_as_before):
    body = "".join(f'<p><progress-bar max="7" value="{value}"></progress-bar></p>' for value in (0, 3, 7))
    component_looks_as_before("progress-bar", body)


def test_terminal_output_looks_as_before(component_looks_as_before):
    script = """terminal => {
        terminal.write('$ python -m pytest -q\\n', 'stdout');
        terminal.write('F.\\nAssertionError: 1 != 2\\n', 'stderr');
        terminal.write('1 failed, 1 passed in 0.02s\\n', 'stdout');
    }"""
    component_looks_as_before("terminal-output", script=script)


def test_toast_region_looks_as_before(component_looks_as_before):
    script = """toasts => {
        const link = 'http://127.0.0.1:9/pull/7';
        toasts.notify({ title: 'Pull request opened', message: 'Add a health badge: #7', link });
        toasts.error('push step: github: 403 push refused', 'Task failed');
    }"""
    component_looks_as_before("toast-region", script=script, whole_page=True)


@pytest.mark.parametrize(
    ("state", "task", "script"),
    [
        ("todo", TASK, ""),
        (
            "in-progress",
            TASK | {"status": "in_progress", "agent_id": "a1"},
            "el.sandboxStatus = 'running'; el.setStep({ step: 'work', index: 4, total: 7 });"
            " el.write('$ make test\\n', 'stdout');",
        ),
        (
            "review",
            TASK | {"status": "review", "agent_id": "a1", "pr_url": "http://127.0.0.1:9/pull/3", "pr_number": 3},
            "el.sandboxStatus = 'done';",
        ),
        (
            "failed",
            TASK | {"status": "failed", "agent_id": "a1", "error": "push step: github: 403 push refused"},
            "el.sandboxStatus = 'failed';",
        ),
    ],
)
def test_task_card_looks_as_before(compose, looks_as_before, state, task, script):
    page = compose("task-card-" + state, "<task-card></task-card>", "", "task-card.js")
    page.locator("task-card").evaluate(f"(el, task) => {{ el.agentName = 'ada-bot'; el.task = task; {script} }}", task)
    looks_as_before(f"task-card-{state}", page.locator("task-card"))


def test_assign_dialog_looks_as_before(component_looks_as_before):
    script = """dialog => {
        const agents = [{ id: 'a1', name: 'ada-bot' }, { id: 'a2', name: 'lin-bot' }];
        dialog.choose({ task: { id: 't1', title: 'Add a health badge' }, agents });
    }"""
    component_looks_as_before("assign-dialog", script=script, whole_page=True)


def test_agent_activity_looks_as_before(component_looks_as_before):
    script = """activity => {
        activity.label = 'Add a health badge';
        activity.apply('agent.message', { step: 1, text: 'I will add the badge.', offset: 0, complete: true });
        const call = { step: 1, id: 'c1', name: 'write_file', arguments: { path: 'README.md' } };
        activity.apply('agent.tool_call', call);
        activity.apply('agent.tool_result', { step: 1, id: 'c1', name: 'write_file', exit_code: 0, output: 'ok' });
        activity.apply('agent.finished', { summary: 'Badge added' });
    }"""
    component_looks_as_before("agent-activity", script=script)


def test_agent_usage_looks_as_before(component_looks_as_before):
    script = "usage => usage.record({ step: 2, prompt_tokens: 1200, completion_tokens: 340, cost_usd: 0.0021 })"
    component_looks_as_before("agent-usage", script=script)
