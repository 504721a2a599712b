"""Typed models of the operator-edited YAML in `sftp_config/`.

Every mistake is reported as `<file>: <key.path>: <what is wrong>` so an operator can fix it
without reading a traceback. Secrets never live here: models hold the *names* of environment
variables (`password_env`, ...), and values are read at connect time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pipelines.fields import ENGAGEMENT_EVENTS, KIND_SPECS


class ConfigError(ValueError):
    """A config file is unreadable or invalid; the message names the file, key and reason."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------
# sources.yaml

# The kinds of drop a source can deliver (pipelines/fields.py KIND_SPECS; how each loads:
# pipelines/kinds).
KINDS = tuple(KIND_SPECS)


class SftpOptions(Strict):
    """How to reach an `sftp://` location. Secrets come from the named environment variables."""

    password_env: str | None = "CRMCLEAN_SFTP_PASSWORD"
    key_file_env: str | None = "CRMCLEAN_SFTP_KEY_FILE"
    key_passphrase_env: str | None = "CRMCLEAN_SFTP_KEY_PASSPHRASE"
    known_hosts: str = "sftp_config/known_hosts"
    trust_on_first_use: bool = False
    connect_timeout_seconds: float = Field(15, gt=0)
    read_timeout_seconds: float = Field(60, gt=0)
    retries: int = Field(3, ge=0, le=10)
    backoff_seconds: float = Field(2, ge=0)


class QualityThresholds(Strict):
    """Limits of the quality checks of one source (pipelines/quality/checks.py)."""

    max_rejected_share: float = Field(0.10, ge=0, le=1)
    min_rows_ratio: float = Field(0.5, ge=0, le=1)
    max_validity_drop_points: float = Field(10, ge=0, le=100)
    block_validity_drop_points: float | None = Field(
        25, ge=0, le=100
    )  # a drop this large blocks exports; null: never
    max_fill_drop_points: float = Field(10, ge=0, le=100)
    max_duplicate_rate_rise_points: float = Field(5, ge=0, le=100)
    expected_every_hours: float = Field(26, gt=0)


class Source(Strict):
    """One system that drops files: where they arrive, how to read them, what they mean."""

    # contacts, suppressions, erasure_requests, orders, engagement (pipelines/fields.py)
    kind: str = "contacts"
    description: str = ""
    location: str | None = None  # default: <data_dir>/inbox/<source name>
    patterns: list[str] = Field(
        default_factory=lambda: ["*.csv", "*.txt", "*.csv.gz", "*.txt.gz", "*.gz", "*.zip"]
    )
    encoding: str = "auto"  # auto = strict UTF-8 (BOM stripped), else cp1252
    delimiter: Literal["auto", ",", ";", "\t", "|"] = "auto"
    quotechar: str = '"'
    date_format: str = "%Y-%m-%d"
    datetime_format: str | None = None
    default_country: str | None = None
    priority: int = 100  # lower wins in survivorship
    columns: dict[str, str]
    # Fields a file must have a column for; unset: the kind's own (contacts: source_record_id).
    required: list[str] = Field(default_factory=list)
    extra_columns: Literal["keep", "ignore"] = "keep"
    true_values: list[str] = Field(
        default_factory=lambda: ["1", "true", "yes", "y", "ja", "j", "waar", "oui", "ja tack"]
    )
    false_values: list[str] = Field(
        default_factory=lambda: ["0", "false", "no", "n", "nee", "onwaar", "non", "nej"]
    )
    event_values: dict[str, str] = Field(default_factory=dict)  # raw event text -> canonical event
    # orders: the contacts source whose `source_record_id` the order lines' customer ids are.
    customer_source: str | None = None
    settle_seconds: float | None = None
    done_marker: str | None = None  # e.g. ".done": take `x.csv` only once `x.csv.done` exists
    after_load: Literal["keep", "move_to_processed"] = "keep"
    max_field_length: int = Field(500, gt=0)
    # A quoted field still open after this many lines (or a record over max_record_length
    # characters, or at the end of the file) is an unbalanced quote: its first line is rejected
    # and the lines after it are read again as records of their own.
    max_quoted_lines: int = Field(50, gt=0)
    max_record_length: int = Field(1_000_000, gt=0)  # longer records are rejected (raw text cut)
    # A file in a declared single-byte encoding (cp1252) that is valid UTF-8 with multi-byte
    # characters: read it as UTF-8 (noted in ingest_log.encoding_note), or refuse the file.
    utf8_in_declared_encoding: Literal["read_as_utf8", "refuse"] = "read_as_utf8"
    max_unpacked_bytes: int = Field(4_000_000_000, gt=0)  # what a .gz/.zip may expand to
    max_unpack_ratio: float = Field(200, gt=1)  # unpacked size / packed size (zip bombs)
    # A date that cannot be read at all (`31-13-1985`, `gisteren`): `flag` it (the default: load
    # the row, the field invalid with its reason, counted in validity), or `reject` the row.
    # Placeholders for "unknown" (`00-00-0000`, `01-01-1900`) are missing, never rejected;
    # ambiguous day/month and out-of-range dates are always flagged: they are readable, just
    # doubtful.
    unparseable_dates: Literal["reject", "flag"] = "flag"
    # Mail domains to treat as closed besides the shipped list (normalize/mail_domains.py), and
    # shipped ones to treat as open; `defaults.closed_mail_domains` / `open_mail_domains` add to
    # these.
    closed_mail_domains: list[str] = Field(default_factory=list)
    open_mail_domains: list[str] = Field(default_factory=list)
    # The names of the bilingual Brussels communes and a reference postcode table (see
    # `SourceDefaults`); unset: the `defaults.` value.
    brussels_names: Literal["nl", "fr", "as_written"] | None = None
    postcode_reference: str | None = None
    sftp: SftpOptions = Field(default_factory=SftpOptions)
    quality: QualityThresholds = Field(default_factory=QualityThresholds)

    @field_validator("columns")
    @classmethod
    def _headers_not_empty(cls, v: dict[str, str]) -> dict[str, str]:
        for field, header in v.items():
            if not str(header).strip():
                raise ValueError(f"column {field!r} has an empty header name")
        return v

    @field_validator("default_country")
    @classmethod
    def _country_code(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Z]{2}", v):
            raise ValueError(f"{v!r} is not an ISO 3166-1 alpha-2 code such as NL, BE or SE")
        return v

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        import codecs

        if v != "auto":
            try:
                codecs.lookup(v)
            except LookupError:
                raise ValueError(f"unknown encoding {v!r}") from None
        return v

    @model_validator(mode="before")
    @classmethod
    def _required_of_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("required") is None:
            kind = KIND_SPECS.get(data.get("kind", "contacts"))
            if kind is not None:
                data = {**data, "required": list(kind.required)}
        return data

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in KIND_SPECS:
            raise ValueError(f"unknown kind {v!r}; known: {', '.join(KIND_SPECS)}")
        return v

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> Source:
        kind = KIND_SPECS[self.kind]
        unknown = sorted(set(self.columns) - set(kind.fields))
        if unknown:
            raise ValueError(
                f"columns: unknown field(s) {', '.join(unknown)} for a {self.kind} source; "
                f"known: {', '.join(kind.fields)}"
            )
        missing = sorted(set(self.required) - set(self.columns))
        if missing:
            raise ValueError(f"required: field(s) {', '.join(missing)} have no column mapping")
        if self.event_values and not kind.events:
            raise ValueError(f"event_values: a {self.kind} source has no events to map")
        for raw, event in self.event_values.items():
            if event not in kind.events:
                raise ValueError(
                    f"event_values: {raw!r} maps to {event!r}; "
                    f"known events: {', '.join(kind.events)}"
                )
        if self.customer_source is not None and self.kind != "orders":
            raise ValueError("customer_source: only an orders source names one")
        return self

    @property
    def is_sftp(self) -> bool:
        return bool(self.location and self.location.startswith("sftp://"))


class SourceDefaults(Strict):
    country: str = "NL"
    settle_seconds: float = Field(30, ge=0)
    timezone: str = "Europe/Amsterdam"
    closed_mail_domains: list[str] = Field(default_factory=list)  # added to every source's
    open_mail_domains: list[str] = Field(default_factory=list)  # added to every source's
    # Brussels and its bilingual communes as `nl` (Brussel, Elsene), `fr` (Bruxelles, Ixelles) or
    # `as_written` (normalize/places.py).
    brussels_names: Literal["nl", "fr", "as_written"] = "nl"
    # A reference postcode table, CSV with a header: postcode, city, optionally street and country
    # (default: `country`). It supplies the canonical city and validates postcode, city and street.
    postcode_reference: str | None = None

    @field_validator("postcode_reference")
    @classmethod
    def _reference_exists(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).is_file():
            raise ValueError(
                f"{v!r}: no such file (a relative path is read from the working directory)"
            )
        return v


class SuppressionRules(Strict):
    """When bounce events and inactivity turn into a suppression (pipelines/privacy/rules.py)."""

    hard_bounces_to_suppress: int = Field(1, ge=1)
    soft_bounces_to_suppress: int = Field(3, ge=1)
    soft_bounce_window_days: int = Field(30, ge=1)
    # Sunset: this many days after a customer met the sunset condition (customer_metrics
    # `inactive_since`: no open, click or order in 12 months and
    # `activity.inactive_after_campaigns` campaigns since), suppress them (reason `inactive`),
    # after the `sunset` segment gave them a last mail. null: never.
    suppress_inactive_after_days: int | None = Field(30, ge=0)


class ActivityRules(Strict):
    """Orders and engagement: value in one currency, what counts as value, engagement
    thresholds."""

    base_currency: str = "EUR"
    # Value of one unit of each currency in the base currency (value metrics: amount_eur).
    # A currency not listed is `invalid` (unknown_currency) and its lines count no value.
    currency_rates: dict[str, float] = Field(default_factory=lambda: {"EUR": 1.0, "SEK": 0.087})
    default_currency: str = "EUR"  # for lines without a currency
    # Order statuses (compared in lower case) that are no value: returned or cancelled goods.
    no_value_statuses: list[str] = Field(
        default_factory=lambda: [
            "returned",
            "return",
            "cancelled",
            "canceled",
            "retour",
            "geannuleerd",
            "returnerad",
            "avbruten",
        ]
    )
    max_line_amount: float = Field(100_000, gt=0)  # above: `invalid` (absurd_amount)
    # Raw engagement event text -> canonical event (ENGAGEMENT_EVENTS); common words are known.
    event_values: dict[str, str] = Field(default_factory=dict)
    bounce_means: Literal["hard_bounce", "soft_bounce"] = "hard_bounce"  # a plain `bounce`
    # engagement_status: `active` with an open or click within `active_months` and fewer than
    # `inactive_after_campaigns` delivered campaigns since; `inactive` when it opened or clicked
    # once but is not active; `never_engaged` when it never opened or clicked.
    active_months: int = Field(12, ge=1)
    inactive_after_campaigns: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _known_values(self) -> ActivityRules:
        for raw, event in self.event_values.items():
            if event not in ENGAGEMENT_EVENTS:
                raise ValueError(
                    f"event_values: {raw!r} maps to {event!r}; "
                    f"known: {', '.join(ENGAGEMENT_EVENTS)}"
                )
        for cur in (self.base_currency, self.default_currency):
            if cur not in self.currency_rates:
                raise ValueError(f"currency_rates: no rate for {cur!r}")
        return self


class Retention(Strict):
    landing_days: int = Field(30, ge=0)
    outbox_days: int = Field(30, ge=0)


class SourcesConfig(Strict):
    defaults: SourceDefaults = Field(default_factory=SourceDefaults)
    sources: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], Source]
    suppression_rules: SuppressionRules = Field(default_factory=SuppressionRules)
    retention: Retention = Field(default_factory=Retention)
    activity: ActivityRules = Field(default_factory=ActivityRules)

    @model_validator(mode="after")
    def _mail_domain_defaults(self) -> SourcesConfig:
        """Every source carries the default closed/open mail domains too (the normalizer reads
        the source)."""
        d = self.defaults
        if d.closed_mail_domains or d.open_mail_domains:
            for name, s in self.sources.items():
                self.sources[name] = s.model_copy(
                    update={
                        "closed_mail_domains": [*d.closed_mail_domains, *s.closed_mail_domains],
                        "open_mail_domains": [*d.open_mail_domains, *s.open_mail_domains],
                    }
                )
        return self

    @model_validator(mode="after")
    def _place_defaults(self) -> SourcesConfig:
        """Every source carries the Brussels names and postcode table in force (the normalizer
        reads the source)."""
        d = self.defaults
        for name, s in self.sources.items():
            self.sources[name] = s.model_copy(
                update={
                    "brussels_names": s.brussels_names or d.brussels_names,
                    "postcode_reference": s.postcode_reference or d.postcode_reference,
                }
            )
        return self

    @model_validator(mode="after")
    def _customer_sources(self) -> SourcesConfig:
        """An orders source's customer ids name records of one contacts source."""
        for name, s in self.sources.items():
            ref = s.customer_source
            if ref is None:
                continue
            if ref not in self.sources or self.sources[ref].kind != "contacts":
                contacts = [n for n, o in self.sources.items() if o.kind == "contacts"]
                raise ValueError(
                    f"sources.{name}.customer_source: {ref!r} is not a contacts source "
                    f"(contacts sources: {', '.join(contacts) or 'none'})"
                )
        return self

    def country_of(self, source: str) -> str:
        return self.sources[source].default_country or self.defaults.country

    def settle_of(self, source: str) -> float:
        s = self.sources[source].settle_seconds
        return self.defaults.settle_seconds if s is None else s


# ---------------------------------------------------------------------------------------------
# exports.yaml


class ExportFormat(Strict):
    delimiter: str = ","
    encoding: Literal["utf-8", "utf-8-sig", "cp1252"] = "utf-8"
    date_format: str = "%Y-%m-%d"
    datetime_format: str = "%Y-%m-%d %H:%M:%S"
    header: dict[str, str] = Field(default_factory=dict)  # column -> header name in the file
    mode: Literal["full", "delta"] = "full"
    change_column: str = "change"  # delta mode: added, changed or removed

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, v: str) -> str:
        if len(v) != 1 or v in ('"', "\r", "\n"):
            raise ValueError(
                f"{v!r}: the delimiter must be one character, not a quote or line break"
            )
        return v


class Guards(Strict):
    min_rows: int = Field(0, ge=0)
    max_change_share: float | None = Field(
        None, ge=0
    )  # refuse when |size change| / last size exceeds it


class Segment(Strict):
    description: str = ""
    filter: str
    columns: list[str]
    order_by: str = "customer_id"
    split_by: str | None = None  # one file per value of this column (e.g. country)
    file_name: str = "{segment}_{date:%Y%m%d}.csv"
    schedule: str | None = None  # cron; default from `defaults.schedule`
    destinations: list[str] = Field(default_factory=lambda: ["outbox"])
    format: ExportFormat = Field(default_factory=ExportFormat)
    guards: Guards = Field(default_factory=Guards)
    manifest: Literal["none", "json", "done"] = "none"
    timezone: str | None = None  # of the schedule; default from `defaults.timezone`
    params: dict[str, int | float | bool | str] = Field(
        default_factory=dict
    )  # `$name` in the filter
    requires_opt_in: bool = (
        True  # marketing: only customers with newsletter_opt_in, whatever the filter
    )
    # One row per inbox (`email`), per postal address (`household`) or none; unset: `email` when
    # the segment exports the email column, else `none` (see `dedupe`).
    dedupe_by: Literal["email", "household", "none"] | None = None

    @property
    def dedupe(self) -> str:
        """`dedupe_by`, or its default: `email` for a segment that exports email addresses."""
        return self.dedupe_by or ("email" if "email" in self.columns else "none")

    @field_validator("filter", "order_by")
    @classmethod
    def _stays_in_warehouse(cls, v: str, info) -> str:
        from pipelines.warehouse.sandbox import outside_reach

        reason = outside_reach(v, as_=info.field_name)
        if reason:
            raise ValueError(reason)
        return v

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        return _check_cron(v) if v is not None else v

    @field_validator("file_name")
    @classmethod
    def _file_name(cls, v: str) -> str:
        from datetime import datetime

        from pipelines.file_names import render_file_name

        render_file_name(v, segment="segment", now=datetime(2026, 1, 31, 6), part="NL")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return _check_timezone(v) if v is not None else v

    @model_validator(mode="after")
    def _delta_needs_key(self) -> Segment:
        if self.format.mode == "delta" and "customer_id" not in self.columns:
            raise ValueError(
                "format.mode: delta needs customer_id in columns (it identifies removed rows)"
            )
        if self.format.mode == "delta" and self.format.change_column in self.columns:
            raise ValueError(
                f"format.change_column: {self.format.change_column!r} is also an exported column"
            )
        return self


class LocalDestination(Strict):
    type: Literal["local"]
    path: str | None = None  # default: <data_dir>/outbox


class SftpDestination(Strict):
    type: Literal["sftp"]
    location: str
    sftp: SftpOptions = Field(default_factory=SftpOptions)


class EmailDestination(Strict):
    type: Literal["email"]
    to: list[str]
    subject: str = "crmclean export: {segment} ({rows} rows)"
    zip_above_bytes: int = 5_000_000

    @field_validator("subject")
    @classmethod
    def _subject(cls, v: str) -> str:
        try:
            v.format(segment="segment", rows=1, files=1)
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(
                f"{v!r}: {type(e).__name__}: {e}; fields are segment, rows, files"
            ) from None
        return v


Destination = Annotated[
    LocalDestination | SftpDestination | EmailDestination, Field(discriminator="type")
]


class Smtp(Strict):
    """Mail transport. With no host, messages are written as .eml files to the outbox."""

    host: str | None = None
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username_env: str | None = "CRMCLEAN_SMTP_USER"
    password_env: str | None = "CRMCLEAN_SMTP_PASSWORD"
    sender: str = "crmclean@localhost"
    timeout_seconds: float = 30
    ca_file: str | None = None  # extra CA certificate(s) to trust (an internal mail relay)


class Alerts(Strict):
    to: list[str] = Field(default_factory=lambda: ["data-team@localhost"])
    on_run_failure: bool = True
    on_check_failure: bool = True


def _check_cron(v: str) -> str:
    if len(v.split()) != 5:
        raise ValueError(f"{v!r}: a cron schedule has five fields (minute hour day month weekday)")
    return v


def _check_timezone(v: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{v!r}: unknown time zone; use an IANA name such as Europe/Amsterdam"
        ) from None
    return v


class ExportDefaults(Strict):
    timezone: str = "Europe/Amsterdam"
    schedule: str = "0 6 * * *"

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str) -> str:
        return _check_cron(v)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _check_timezone(v)


class ExportsConfig(Strict):
    defaults: ExportDefaults = Field(default_factory=ExportDefaults)
    smtp: Smtp = Field(default_factory=Smtp)
    alerts: Alerts = Field(default_factory=Alerts)
    destinations: dict[str, Destination] = Field(
        default_factory=lambda: {"outbox": LocalDestination(type="local")}
    )
    segments: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], Segment]

    @model_validator(mode="after")
    def _destinations_exist(self) -> ExportsConfig:
        for name, seg in self.segments.items():
            for d in seg.destinations:
                if d not in self.destinations:
                    raise ValueError(
                        f"segments.{name}.destinations: unknown destination {d!r}; "
                        f"defined: {', '.join(self.destinations)}"
                    )
        return self


# ---------------------------------------------------------------------------------------------
# loading


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{path}: {where}invalid YAML: {problem}") from None


def format_validation_error(path: Path, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = (
            ".".join(str(p) for p in e["loc"] if not str(p).startswith("function-after"))
            or "(top level)"
        )
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see the configuration reference in README.md)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"{path}: {key}: {msg}")
    return "\n".join(lines)


def _load(model: type[BaseModel], path: Path):
    data = _read_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(path, e)) from None


def load_sources(path: Path) -> SourcesConfig:
    return _load(SourcesConfig, path)


def load_exports(path: Path) -> ExportsConfig:
    return _load(ExportsConfig, path)
