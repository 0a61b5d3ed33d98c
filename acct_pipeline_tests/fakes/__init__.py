"""Fake servers that speak the real APIs, on loopback, for tests (issue #3).

Each fake is a real HTTP server (``127.0.0.1``, port 0, a daemon thread) that follows the contract
in ``../shared/REFERENCE.md`` — cursors and page-size limits, the real error bodies and headers —
and is no kinder than the real service. Each is a context manager and has a pytest fixture in
``acct_pipeline_tests.fakes.fixtures`` (import the fixture names into your test module or
conftest: ``from acct_pipeline_tests.fakes.fixtures import fake_hubspot  # noqa: F401``).

Use::

    from acct_pipeline_tests.fakes.hubspot import FakeHubSpot, TOKEN
    with FakeHubSpot(rate_limit=(100, 10.0)).load_landing(sample_dir) as hs:
        env = {"HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_BASE_URL": hs.url}
        client = client_from_env(env, sleep=no_sleep)  # acct_pipeline.services.hubspot
        ...
        assert hs.writes_to("companies", "123")[0].properties == {"acct_health_score": "87"}

No kinder than the real APIs (issue #26): every error — unknown routes, injected faults without a
body, crashes of a fake — is in the vendor's shape (HubSpot ``{status, message, correlationId,
category}``, Stripe ``{"error": {type, code, message, param}}``, Salesforce ``[{message,
errorCode, fields}]``), and the vendors' SDKs drive each fake in ``acct_pipeline_tests/contracts/``.

Common knobs (``FakeServer``, ``base.py``)
------------------------------------------
- ``url``: the base URL (``http://127.0.0.1:<port>``), after ``start()`` / ``with``.
- ``inject(kind, count, ...)``: the next ``count`` matching requests fail.
  ``inject("status", 3, status=429)`` (the service's own 429 body and headers),
  ``inject("status", 2, status=503)``, ``inject("slow", 1, delay=2.0)`` (real seconds, then a
  normal answer: lets a client timeout fire), ``inject("drop", 1)`` (connection closed without
  an answer), ``inject("truncate", 1)`` (body cut off half-way). Filters: ``path=<regex>``,
  ``method="POST"``. ``clear_faults()``.
- ``calls`` / ``calls_to(regex, method)``: every request seen (method, path, query, status, fault).
- ``max_url_length``: longer request lines get 414 (HubSpot: 4096).
- ``clock``: a ``FakeClock`` shared with the client (``sleep=clock.sleep``) makes rate-limit
  windows pass instantly; default real ``time.time``.
- ``load_landing(dir)``: fill the store from a sample-generator landing folder (one record per
  id: rows without an id or with a repeated id are not stored — the loader would quarantine them
  anyway).

``FakeHubSpot`` (``hubspot.py``; token ``hubspot.TOKEN``; Bearer, 401 otherwise)
--------------------------------------------------------------------------------
Paths under ``/crm/v3/objects`` and the alias ``/crm/objects/2026-03``; properties under
``/crm/v3/properties`` and ``/crm/properties/2026-03``; owners ``/crm/v3/owners``.
Objects: companies, contacts, emails, meetings, calls, tickets, tasks, notes, feedback_submissions.
- list ``GET /{type}?limit<=100&after=&properties=a,b&associations=companies`` (400 on limit > 100;
  without ``properties=`` only HubSpot's default set; ``paging.next.link`` absolute);
  ``GET /{type}/{id}``; ``POST /{type}/batch/read``; ``POST /{type}/search`` (filterGroups with
  EQ/NEQ/GT/GTE/LT/LTE/HAS_PROPERTY, sorts, limit <= 200, 400 past 10,000, 5 req/s -> 429 SECONDLY).
- ``POST /{type}/batch/update``: <= 100 inputs (else 400), duplicate ids 400, unknown property 400
  for the whole batch (``PROPERTY_DOESNT_EXIST``); 200 when all succeed, 207 with
  ``errors[{status, category, message, context:{ids}}]`` for rejected / missing records; a number
  property given a non-number or an enumeration given an unknown option is rejected per record.
  Success sets ``hs_lastmodifieddate`` (contacts: ``lastmodifieddate``) to the fake's clock.
- ``POST /{type}`` create (e.g. tasks with ``associations:[{to:{id}, types:[...]}]``) -> 201;
  engagements need ``hs_timestamp``, associations need ``types``; built-in enumerations
  (``lifecyclestage``, ``industry``, task status/priority/type, ...) take only HubSpot's options
  (``hubspot_schema.py``).
- properties: ``GET /properties/{type}``, ``GET /properties/{type}/{name}`` (404),
  ``POST /properties/{type}`` (201, 409 ``OBJECT_ALREADY_EXISTS``; group must exist),
  ``GET|POST /properties/{type}/groups`` (409 when it exists).
- limits: ``rate_limit=(100, 10.0)`` rolling window -> 429 ``TEN_SECONDLY_ROLLING`` with
  ``X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds`` (+ ``-Daily``,
  ``-Daily-Remaining`` on every answer), no ``Retry-After``; ``daily_limit=250_000`` -> 429
  ``DAILY``; ``exhaust_daily_quota()`` makes the next request hit it. ``rate_limit=None`` /
  ``daily_limit=None`` switch them off.
- writes: ``writes`` (``Write(object_type, record_id, properties, at, endpoint, request_no)``),
  ``writes_to(type, id)``, ``written_property_names(type)``;
  ``reject(type, ids, message, category)`` / ``accept(type, ids)`` configure per-record 207
  errors; ``objects[type][id]`` is the store
  (``HubSpotRecord.properties``); ``owners``; ``properties[type]`` the property definitions.
- landing mapping: companies (name, domain, industry, region, numberofemployees, lifecyclestage,
  hubspot_owner_id, createdate, hs_lastmodifieddate; owners from owner_id/owner_email), contacts
  (email, firstname, lastname, jobtitle, hs_buying_role=CHAMPION, left_company_date; company
  association), emails (hs_email_direction EMAIL / INCOMING_EMAIL), meetings, calls,
  feedback_submissions (NPS: hs_response_value), all with hs_timestamp and company/contact
  associations; tickets (hs_ticket_priority LOW..URGENT, hs_pipeline_stage 1/2/4, escalated,
  csat_score, closed_date).

``FakeSalesforce`` (``salesforce.py``; token ``salesforce.TOKEN``; API ``/services/data/vNN.0``)
------------------------------------------------------------------------------------------------
- ``GET /query?q=<SOQL>`` and ``nextRecordsUrl`` paging (``done``, ``totalSize``); page size
  ``page_size=`` knob, else ``Sforce-Query-Options: batchSize=`` (200..2000), else 2000.
  Objects Account (+ ``Owner.Email``), Contact, Task, Event, Case, User; unknown field / object ->
  400 ``INVALID_FIELD`` / ``INVALID_TYPE``.
- ``PATCH /composite/sobjects`` (<= 200 records else 400 ``EXCEEDED_ID_LIMIT``; ``allOrNone``;
  per-record ``{id, success, errors[{statusCode, message, fields}]}`` in request order);
  ``fail_record(id, message, status_code)`` configures a per-record error. Unknown field -> 400.
- ``GET /sobjects/{obj}/describe`` (full field metadata; ``add_field(obj, name, type, picklist,
  restricted)`` adds one); ids are 18 characters with the key prefix (``account_ids(n)``,
  ``sf_id(prefix, n)``), other ids in writes answer ``MALFORMED_ID`` (landing ids are accepted);
  read-only fields and restricted picklist values are refused on every write;
  ``POST /sobjects/Task`` (201 ``{id, success, errors}``); ``PATCH /sobjects/{obj}/{id}`` (204).
- auth: 401 ``[{"errorCode": "INVALID_SESSION_ID"}]`` on a wrong token. Limits: every call counts,
  ``Sforce-Limit-Info: api-usage=N/LIMIT`` on each answer, ``api_limit=`` / ``limit_after(n)`` ->
  403 ``REQUEST_LIMIT_EXCEEDED``.
- ``writes`` / ``writes_to(obj, id)`` (``Write(object_type, record_id, fields, at, endpoint)``),
  ``records[obj][id]`` the store.

Other fakes (details in their module docstrings)
------------------------------------------------
- ``FakeStripe`` (``stripe.py``, key ``stripe.API_KEY``, ``api_version=`` the account's pinned
  version; objects are shaped by the request's ``Stripe-Version``, 2024-06-20 or basil and later):
  ``/v1/customers``, ``/v1/subscriptions``
  (canceled only with ``status=all``), ``/v1/invoices``; newest first, ``limit`` <= 100,
  ``starting_after`` / ``ending_before``; 429 ``rate_limit`` over ``rate_limit=(25, 1.0)``;
  ``versions_seen`` (``Stripe-Version`` headers); yearly / quarterly prices on some subscriptions.
- ``FakeMixpanel`` (``mixpanel.py``, basic auth ``USERNAME``/``SECRET``, ``PROJECT_ID``): streamed
  JSON-lines export, not de-duplicated (``duplicate_every=N`` re-sends events), 60/hour and 3/s
  limits, Engage group profiles; ``events_source=`` for synthetic volumes.
- ``FakeAmplitude`` (``amplitude.py``, basic auth ``API_KEY``/``SECRET_KEY``): Export API zip of
  gzipped hourly JSON-lines files by upload time, upload lag ``max_lag_seconds``, 404 when empty.
- ``write_segment_export(landing, out, fmt)`` (``segment.py``): a landing folder as Segment
  warehouse files (``tracks/``, ``groups/``).
- Marketing touches (issue #20): ``FakeHubSpot`` also serves marketing e-mail events, forms and
  submissions, web analytics events (``hubspot_marketing.py``); ``FakeSalesforce`` Campaign and
  CampaignMember; both fill them from ``marketing/touches.csv`` in ``load_landing`` or from rows
  (``load_touches``); ``marketing.py`` draws a touches dataset from a sample's contacts.
- ``fixtures.py``: pytest fixtures ``fake_clock``, ``fake_hubspot``, ``fake_salesforce``.
"""
