//! The Lua scripts a server runs in Redis, each one atomic: claiming a
//! resume token, forgetting users with their tokens, and the heartbeat.
//! Kept apart so they can be read as what they are: the only logic that
//! runs inside Redis.

// ANCHOR: claim_script
/// KEYS: users, tokens. ARGV: token. Takes the token (good for one resume)
/// and returns the record of the user it resumes, or nil.
pub const CLAIM_SCRIPT: &str = r#"
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then return false end
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('HGET', KEYS[1], id)
"#;
// ANCHOR_END: claim_script

/// KEYS: users, tokens. ARGV: ids. Removes each user's record and the token
/// it names.
pub const FORGET_SCRIPT: &str = r#"
for _, id in ipairs(ARGV) do
  local record = redis.call('HGET', KEYS[1], id)
  if record then
    local ok, decoded = pcall(cjson.decode, record)
    if ok and decoded.token then redis.call('HDEL', KEYS[2], decoded.token) end
    redis.call('HDEL', KEYS[1], id)
  end
end
return 0
"#;

// ANCHOR: heartbeat_script
/// KEYS: servers. ARGV: server id, heartbeat lifetime (ms). Refreshes this
/// server's entry by Redis's own clock, drops the expired ones, and returns
/// the servers alive. (The id tag's lease is renewed by a command of its
/// own: on a Redis Cluster it lives on another shard.)
pub const HEARTBEAT_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
"#;
// ANCHOR_END: heartbeat_script
