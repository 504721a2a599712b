"""Privacy: consent, unsubscribes, bounces, erasure, retention and masking (GDPR).

What exports can rely on
------------------------
`suppressions` (brought up to date by `rules.refresh_suppressions`, the `suppressions` asset,
after every customer rebuild; incrementally on a daily run) is the one list of people who must
not be mailed. A customer is suppressed when a row matches their `customer_id`, their normalized
`email` or their E.164 `phone`:

- `unsubscribe`, `complaint` (matches by email / phone, + customer_id when known): never mail
  this address again (until a resubscribe)
- `hard_bounce`, `soft_bounce` (matches by email / phone, + customer_id): the address does not
  work (config `suppression_rules`)
- `erasure` (matches by customer_id): an erased person came back in a later drop (tombstone
  match)
- `no_consent` (matches by customer_id): **no marketing**: the customer has no granted, current
  newsletter opt-in

The no-consent guarantee: after `refresh_suppressions`, every row of `customers` whose consent
state (consent.py: latest statement wins, double opt-in confirmed where the source has it) is
not a granted opt-in has a `suppressions` row with reason `no_consent` and its `customer_id`;
this includes customers with no statement at all. So "not suppressed" implies "consented": a
marketing export that leaves out every suppressed customer sends nothing to anyone without
consent, whatever `customers.newsletter_opt_in` says. Rows with a reason other than
`no_consent` bar every kind of export (service mail too); `no_consent` bars marketing. The
`consent` table holds each customer's state (opt-in, time, source, event) for filters and audits.

Addresses in `suppressions` and `suppression_events` are normalized with the contact normalizer
(addresses.py), so `Jan.Jansen@Gmail.com ` in a drop is suppressed by `jan.jansen@gmail.com`;
comparing them with `customers.email` / `customers.phone` by equality is enough.

Modules
-------
- `events.py`      load suppression drops and erasure-request drops (`load_privacy_drop`)
- `consent.py`     consent events from contact sources; the `consent` state per customer
- `rules.py`       events + consent + tombstones -> `suppressions`
- `person.py`      find one person everywhere in the warehouse
- `erasure.py`     erase a person (warehouse, files, tombstone, audit); compact the DuckDB file
- `scrub.py`       rewrite files under data/ without a person's rows; find what is left
- `tombstones.py`  keyed hashes (CRMCLEAN_TOMBSTONE_KEY; see there when it is unset)
- `retention.py`   delete landing and outbox files after the configured days
- `masking.py`     `mask_email`, `mask_phone`, masking of every log record and of error texts
                   (`masked_errors`)
- `export_person.py` the right of access: everything about one person as JSON
"""

from pipelines.privacy.masking import install_log_masking, mask_email, mask_phone, mask_text

__all__ = ["install_log_masking", "mask_email", "mask_phone", "mask_text"]
