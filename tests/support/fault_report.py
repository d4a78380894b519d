"""What one fault did to a campaign: the relay's view, the
product's report, the goal's verdict, and the table."""

from dataclasses import dataclass, field


@dataclass
class Row:
    """The outcome of one fault: the relay's view, the product's report, and the goal's verdict."""

    fault: str
    label: str
    expected: int = 0
    delivered: int = 0
    duplicates: int = 0
    unexplained_duplicates: int = 0
    refused: int = 0
    missing: int = 0
    missing_uncertain: int = 0
    uncertain: int = 0
    uncertain_bound: int = 0
    accepted_not_sent: int = 0
    refused_not_bounced: int = 0
    states: dict = field(default_factory=dict)
    reasons: dict = field(default_factory=dict)
    status: str = ""
    status_reason: str = ""
    help: list = field(default_factory=list)
    pauses: list = field(default_factory=list)  # the campaign's reason each time it paused itself
    waiting: list = field(default_factory=list)  # what the campaign said it was waiting for while it ran
    seconds: float = 0.0
    error: str = ""

    @property
    def finished_alone(self) -> bool:
        return self.status == "sent" and not self.help and not self.error

    def problems(self) -> list[str]:
        """Where this row misses the goal (empty: it meets it)."""
        found = [self.error] if self.error else []
        if self.missing - self.missing_uncertain:
            found.append(
                f"{self.missing - self.missing_uncertain} recipients never delivered and not reported "
                "uncertain"
            )
        if self.unexplained_duplicates:
            found.append(
                f"{self.unexplained_duplicates} recipients got it twice without being reported uncertain"
            )
        if self.uncertain > self.uncertain_bound:
            found.append(f"{self.uncertain} uncertain, more than {self.uncertain_bound}")
        if self.refused_not_bounced:
            found.append(f"{self.refused_not_bounced} refused with 550 5.1.1 but not reported bounced")
        if not self.finished_alone:
            found.append(
                f"did not finish by itself (status {self.status}; {'; '.join(self.help) or 'no help'})"
            )
        return found


def describe(row: Row) -> str:
    """Everything measured for one fault, for the log."""
    lines = [
        f"== {row.label}: {'meets the goal' if not row.problems() else 'MISSES the goal'}",
        f"   relay: delivered {row.delivered} of {row.expected}, duplicates {row.duplicates} "
        f"({row.unexplained_duplicates} not reported uncertain), refused 550 {row.refused}, missing "
        f"{row.missing} ({row.missing_uncertain} of them reported uncertain)",
        f'   product: campaign {row.status} "{row.status_reason[:160]}" after {row.seconds:.0f} s; '
        "deliveries "
        f"{row.states}; uncertain {row.uncertain} (at most {row.uncertain_bound}); accepted by the relay but "
        f"not reported sent {row.accepted_not_sent}",
    ]
    lines += [f"   reason {count} x {text}" for text, count in row.reasons.items()]
    lines += [f"   shown while sending: {item}" for item in row.waiting]
    lines += [f"   help: {item}" for item in row.help]
    lines += [f"   paused: {reason[:200]}" for reason in row.pauses]
    lines += [f"   problem: {item}" for item in row.problems()]
    return "\n".join(lines)


def table(rows: list[Row]) -> str:
    """The issue's table, measured."""
    out = [
        "| fault | delivered | duplicates | missing | uncertain (max) | reported as | finished by itself | "
        "time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        reported = ", ".join(f"{k} {v}" for k, v in sorted(row.states.items(), key=lambda kv: -kv[1]))
        waited = " (waited for the relay meanwhile)" if row.waiting else ""
        finished = "yes" if row.finished_alone else "no: " + "; ".join(row.help or [row.error or row.status])
        out.append(
            f"| {row.label} | {row.delivered}/{row.expected} | {row.duplicates} | {row.missing} | "
            f"{row.uncertain} ({row.uncertain_bound}) | {reported}; campaign {row.status}{waited} | "
            f"{finished} | "
            f"{row.seconds:.0f} s |"
        )
    return "\n".join(out)
