"""Settling and renewing an entry only while it is still pending on this consumer: Lua scripts,
so that Redis checks the holder and acts in one step.

A replica paused (SIGSTOP, a stalled node) past the claim idle time finds, once it runs again,
that another replica has claimed its entries (XAUTOCLAIM) and owns them now.  Its late ack, dead
letter or renewal must not happen: the new holder settles the entry.  ``XPENDING key group id id
1`` names the consumer an entry is pending on; each script acts only when that is the caller.
"""

from __future__ import annotations

#: KEYS: the stream, the dead-letter stream; ARGV: the group, the consumer, the entry id, then the
#: dead letter's fields and values (none: a plain ack).  Returns the consumer the entry was
#: pending on ('' when on none): it was acknowledged (and the letter written) only when that is
#: the caller.
SETTLE = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
local holder = pending[1] and pending[1][2] or ''
if holder ~= ARGV[2] then
  return holder
end
if #ARGV > 3 then
  redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4))
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
return holder
"""

#: KEYS: the stream; ARGV: the group, the consumer, the entry ids.  Resets the idle time (XCLAIM
#: JUSTID: no delivery counted) of those pending on the caller; returns the others (lost).
RENEW = """
local lost = {}
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if pending[1] and pending[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
"""
