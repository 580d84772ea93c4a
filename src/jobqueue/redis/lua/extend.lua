-- Heartbeat: push the lease of jobs still running to now + ARGV[1] ms; only leases this worker
-- still holds (same delivery token), so a superseded worker cannot extend another's lease.
-- KEYS: 1 lease zset. ARGV: 1 lease ms, 2 job prefix, then pairs: id, delivery token
local until_ms = now_ms() + tonumber(ARGV[1])
local n = 0
for i = 3, #ARGV, 2 do
  if not stale(ARGV[2] .. ARGV[i], ARGV[i + 1]) then
    n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', until_ms, ARGV[i])
  end
end
return n
