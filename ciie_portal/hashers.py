"""Argon2id with parameters OWASP's Password Storage Cheat Sheet gives for it: 7 MiB of memory,
5 iterations, 1 degree of parallelism. The cheat sheet lists five settings of equal defence that
trade memory for passes (46 MiB × 1, 19 MiB × 2, 12 MiB × 3, 9 MiB × 4, 7 MiB × 5); this one
costs the least CPU per sign-in here (about 14 ms against 18 ms for 19 MiB × 2, measured with
argon2-cffi on the 2-core machine), which matters in the registration rush, and keeps each
concurrent sign-in's memory small. Django's own Argon2 hasher uses other defaults; a subclass is
how Django asks to change them. Hashes made with other parameters (or other algorithms) are
upgraded at the account's next sign-in."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    algorithm = "argon2"
    time_cost = 5
    memory_cost = 7 * 1024  # KiB
    parallelism = 1
