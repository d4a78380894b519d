"""axe-core (the copy shipped in axe-playwright-python) run on a page open in the test browser."""

from axe_playwright_python.sync_playwright import Axe

_AXE = Axe()


def accessibility_violations(page, context: str | None = None) -> list[str]:
    """One line per axe-core violation on the page as it is now (rule, impact, first offending element);
    context: a CSS selector to check only that part of the page."""
    page.wait_for_load_state("load")  # stylesheets applied: colours are judged as a person sees them
    results = _AXE.run(page, context=context).response
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}: {node.get('failureSummary', '')}"
        for v in results["violations"]
        for node in v["nodes"]
    ]
