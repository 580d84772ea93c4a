-- Heartbeat: push the lease of jobs still running to now + ARGV[1] ms; only leases this worker
-- still holds (same delivery token, still leased), so a superseded worker extends nothing.
-- KEYS: 1 lease zset. ARGV: 1 lease ms, 2 queue base, then pairs: id, delivery token
-- Returns the positions (1-based) of the pairs refused: those deliveries lost their job.
local until_ms = now_ms() + tonumber(ARGV[1])
local lost = {}
for i = 3, #ARGV, 2 do
  if held(KEYS[1], ARGV[2], ARGV[i], ARGV[i + 1]) then
    redis.call('ZADD', KEYS[1], 'XX', until_ms, ARGV[i])
  else
    lost[#lost + 1] = (i - 1) / 2
  end
end
return lost
