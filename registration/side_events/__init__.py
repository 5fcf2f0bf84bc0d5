"""配套活动报名: units sign their visitors up for the organiser's side events.

- ``models``: a sign-up and its states (``SIGNUP_STATES``).
- ``services``: every write — signing up, cancelling, the organiser's approval and decline,
  moving the waiting list up — each under the event's row lock, audited, notices queued.
- ``selectors``: what the pages and the dashboard read.
- ``notices``: the SMS and emails to the visitors and the unit's contact.
- ``views``, ``forms``: the unit's pages; ``admin``: the organiser's list (approve, decline,
  export), secretaries' view of their delegation's sign-ups.
- ``wiring``: what the lower app's side-event screens ask of this one (``ciie_portal.side_events``).
"""
