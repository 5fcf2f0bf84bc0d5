"""SMS and email notices: recorded, sent by Celery after commit, retried, never sent twice.

Callers use :func:`ciie_portal.notices.services.notice_send`.
"""
