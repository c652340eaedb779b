"""<assign-dialog>: the move/assign control asks which agent takes the task (or, for a move that
needs no agent, only whether to make it), and can be cancelled."""

import pytest
from playwright.sync_api import expect

AGENTS = [{"id": "a1", "name": "ada-bot"}, {"id": "a2", "name": "grace-bot"}]
TASK = {"id": "t1", "title": "Fix the login redirect"}


def _ask(page) -> None:
    page.evaluate(
        """([task, agents]) => {
            window.answer = undefined;
            document.querySelector('assign-dialog').choose({ task, agents }).then((id) => { window.answer = id; });
        }""",
        [TASK, AGENTS],
    )


@pytest.mark.unit
@pytest.mark.priority_p1
def test_assign_dialog_resolves_with_the_agent_chosen_from_the_keyboard(mount):
    page = mount("<assign-dialog></assign-dialog>", "assign-dialog.js")

    _ask(page)
    dialog = page.get_by_role("dialog", name="Move to In Progress")
    expect(dialog).to_contain_text(TASK["title"])
    agent = dialog.get_by_label("Agent")
    expect(agent).to_be_focused()
    agent.select_option(label="grace-bot")
    page.keyboard.press("Enter")

    expect(dialog).to_be_hidden()
    page.wait_for_function("window.answer !== undefined")
    assert page.evaluate("window.answer") == "a2"


@pytest.mark.unit
@pytest.mark.priority_p1
@pytest.mark.parametrize("how", ["Escape", "Cancel"])
def test_assign_dialog_cancelled_resolves_with_no_agent(mount, how):
    page = mount("<assign-dialog></assign-dialog>", "assign-dialog.js")

    _ask(page)
    dialog = page.get_by_role("dialog", name="Move to In Progress")
    expect(dialog).to_be_visible()
    if how == "Escape":
        page.keyboard.press("Escape")
    else:
        dialog.get_by_role("button", name="Cancel").click()

    expect(dialog).to_be_hidden()
    page.wait_for_function("window.answer !== undefined")
    assert page.evaluate("window.answer") is None


@pytest.mark.unit
@pytest.mark.priority_p1
@pytest.mark.parametrize(("key", "answer"), [("Enter", True), ("Escape", False)])
def test_move_dialog_confirms_a_move_to_the_named_column_without_asking_for_an_agent(mount, key, answer):
    page = mount("<assign-dialog></assign-dialog>", "assign-dialog.js")

    page.evaluate(
        """(task) => {
            window.answer = undefined;
            document.querySelector('assign-dialog').confirmMove({ task, to: 'Done' })
              .then((confirmed) => { window.answer = confirmed; });
        }""",
        TASK,
    )
    dialog = page.get_by_role("dialog", name="Move to Done")
    expect(dialog).to_contain_text(f"Move “{TASK['title']}” to Done?")
    expect(dialog.get_by_label("Agent")).to_be_hidden()
    expect(dialog.get_by_role("button", name="Move")).to_be_focused()
    page.keyboard.press(key)

    expect(dialog).to_be_hidden()
    page.wait_for_function("window.answer !== undefined")
    assert page.evaluate("window.answer") is answer, f"{key} should answer {answer}"


@pytest.mark.unit
@pytest.mark.priority_p2
def test_assign_dialog_asks_for_an_agent_again_after_a_move_was_confirmed(mount):
    page = mount("<assign-dialog></assign-dialog>", "assign-dialog.js")
    page.evaluate(
        "(task) => { document.querySelector('assign-dialog').confirmMove({ task, to: 'Done' }); }",
        TASK,
    )
    page.get_by_role("dialog", name="Move to Done").get_by_role("button", name="Move").click()

    _ask(page)
    dialog = page.get_by_role("dialog", name="Move to In Progress")
    expect(dialog.get_by_label("Agent")).to_be_focused()
    expect(dialog.get_by_role("button", name="Assign")).to_be_enabled()
