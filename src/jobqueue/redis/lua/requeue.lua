-- Put jobs this worker holds back to the front of pending without counting a failure (used on
-- graceful shutdown). Only jobs this worker's deliveries still hold are moved.
-- KEYS: 1 lease zset, 2 pending list
-- ARGV: 1 queue base, 2 notify channel, then pairs: id, delivery token
local n = 0
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  if take_lease(KEYS[1], ARGV[1], id, ARGV[i + 1]) then
    redis.call('RPUSH', KEYS[2], id)
    n = n + 1
  end
end
if n > 0 then redis.call('PUBLISH', ARGV[2], '1') end
return n
