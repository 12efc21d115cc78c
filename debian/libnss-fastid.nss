# fastid after files (local accounts never depend on the daemon), before
# systemd; initgroups only where an initgroups line exists (without one,
# glibc uses the group line).
initgroups database-require
passwd after=files fastid
group after=files fastid
initgroups after=files fastid
