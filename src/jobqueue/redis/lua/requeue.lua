-- Put jobs this worker holds back to the front of pending without counting a failure (used on
-- graceful shutdown). Only jobs whose lease this worker still holds are moved.
-- KEYS: 1 lease zset, 2 pending list
-- ARGV: 1 job prefix, 2 notify channel, then pairs: id, delivery token
local n = 0
for i = 3, #ARGV, 2 do
  local id, jk = ARGV[i], ARGV[1] .. ARGV[i]
  if not stale(jk, ARGV[i + 1]) and redis.call('ZREM', KEYS[1], id) == 1 then
    redis.call('RPUSH', KEYS[2], id)
    redis.call('HSET', jk, 'state', 'pending')
    n = n + 1
  end
end
if n > 0 then redis.call('PUBLISH', ARGV[2], '1') end
return n
