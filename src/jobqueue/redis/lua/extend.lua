-- Heartbeat: push the lease of jobs still running to now + ARGV[1] ms; only leases this worker
-- still holds (same delivery token, still leased), so a superseded worker extends nothing.
-- KEYS: 1 lease zset. ARGV: 1 lease ms, 2 queue base, then pairs: id, delivery token
-- Returns {positions (1-based) of the pairs refused: those deliveries lost their job,
--          positions of the pairs whose job was asked to stop (`cancel`)}.
local until_ms = now_ms() + tonumber(ARGV[1])
local lost, cancel = {}, {}
for i = 3, #ARGV, 2 do
  local position = (i - 1) / 2
  if held(KEYS[1], ARGV[2], ARGV[i], ARGV[i + 1]) then
    redis.call('ZADD', KEYS[1], 'XX', until_ms, ARGV[i])
    if redis.call('HEXISTS', attempt_key(ARGV[2], ARGV[i]), 'cancel') == 1 then
      cancel[#cancel + 1] = position
    end
  else
    lost[#lost + 1] = position
  end
end
return {lost, cancel}
