-- File retry and dead jobs that have no error group (stored before error groups existed, or by
-- jobqueue 0.1) under their error's group. One chunk per call; run it until it returns -1.
-- KEYS: 1 retry or dead zset. ARGV: 1 queue base, 2 offset, 3 chunk size
-- Returns {jobs filed, next offset (-1: done)}
local base, offset, size = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local ids = redis.call('ZRANGE', KEYS[1], offset, offset + size - 1, 'WITHSCORES')
local filed = 0
for i = 1, #ids, 2 do
  local id, score = ids[i], tonumber(ids[i + 1])
  local ak = attempt_key(base, id)
  local ok, fields = pcall(redis.call, 'HMGET', ak, 'group', 'error', 'failed_at')
  if ok and not fields[1] and redis.call('EXISTS', ak) == 1 then
    group_error(base, id, fields[2] or '', tonumber(fields[3] or '') or score)
    filed = filed + 1
  end
end
if #ids < 2 * size then return {filed, -1} end
return {filed, offset + size}
