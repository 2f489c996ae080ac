/* store_lua.h — the Redis Functions library the store loads at connect.
 *
 * A step's first try commits without it (store.h, "The optimistic commit":
 * WATCH at the load, MULTI ... EXEC of plain commands). ac_commit_v7 is the
 * commit of the serial rounds after it — customers whose part lost its
 * watch, and records of the previous layout — and of ac_store_commit.
 *
 * ac_commit_v7  KEYS: the call's key and its bucket's call index (the bucket
 *                     of the call's first customer), then per customer 3:
 *                     record, its bucket's due index and experiment counters
 *               ARGV: n, the call id, "1" if the call's key holds its bundles
 *                     ("0": no customer has records), then per customer:
 *                     expected version (the 8 version bytes of the record
 *                     loaded, "" for a customer that had none, "L<decimal>"
 *                     for the previous layout), the new record, due ("" =
 *                     leave the due entry, "-" = remove it, else its new
 *                     score), customer id, the length of its bundle in the
 *                     call's key (0 = none), n_counters, field/by...,
 *                     n_legacy_keys, key... (previous layout only)
 *   Returns one integer per customer: 0 applied, 1 the version differs
 *   (another writer committed since the load: re-read and retry).
 *   The writer sends MULTI, SET <call key> <bundles>, this FCALL, EXEC: the
 *   bundles (per customer with records its id, NUL, a 4-byte big-endian
 *   length, the records) reach the key by a plain command, so Lua, which
 *   hashes every byte of every string it is handed, never sees them. The
 *   function checks every version first; the bundle of a customer whose
 *   check failed is struck out in place (SETRANGE: its id's first byte
 *   becomes NUL, which readers skip); a call left with no bundle is deleted,
 *   else its id joins the bucket's call index (a sorted set) scored by
 *   Redis's time (ms), before any customer write; then the records (one
 *   MSET, which replaces a record of the previous layout too), the due
 *   entries (one ZADD or ZREM per index), and only then what may fail on a
 *   key of another type: the previous layout's other keys and the counters
 *   (Redis keeps a function's writes up to an error: the records are then
 *   written with their bundles, never the bundles alone). So a
 *   call's records are one key, written and deleted once whatever its
 *   customer count. Its writer deletes the key and the index entry (DEL,
 *   ZREM) when Kafka confirmed the records; a call older than the sweep's
 *   period (its writer died or failed) is delivered by the timer process's
 *   sweep, and a writer that replays a customer's events delivers the calls
 *   holding that customer's bundles at once.
 *
 * ac_call_done_v7  KEYS: a call's key, its call index   ARGV: the call id
 *   A call of the previous version (Redis's time, then its customers' outbox
 *   keys, NUL-separated; its index a set, <b>:oc): drops it (key and index
 *   entry) unless one of those outboxes still holds a record. Returns 1 if
 *   dropped, 0 if kept.
 *
 * ac_ack_v7  KEYS: per customer 2: outbox, its bucket's outbox index
 *           ARGV: n, then per customer: customer id, n_fields, field...
 *   The per-customer outboxes of earlier versions: removes the delivered
 *   bundles, then drops the customer from the index if its outbox is empty
 *   (and its member of the oldest layout, the state key). Returns how many
 *   index entries it dropped. Only the sweep uses it.
 *
 * ac_ewm_v7  KEYS: <prefix>:ewm   ARGV: field, event time...
 *   Raises each "<topic>:<partition>" field to the event time given, never
 *   lowers it (a rebalanced partition replays older events).
 *
 * The record's version sits at bytes 2..9 of its value (record.h), so the
 * check reads it from the value, not a decode. One call carries many
 * customers because the fixed cost of a call dominates a customer's work,
 * and each redis.call inside a function costs more than the command itself:
 * the call reads every record with one MGET (EXISTS for a customer expected
 * to be new that has none: a key of another type must conflict), writes them
 * with one MSET, and the due entries with one ZADD (ZREM) per index. Every customer key is declared
 * and a customer's keys share its bucket's hash tag. Today a call takes any
 * 64 customers and its key the first one's bucket: on Redis Cluster calls
 * must be grouped by hash slot (the call key taking the slot's tag).
 */
#ifndef AC_STORE_LUA_H
#define AC_STORE_LUA_H

#define AC_STORE_LIBRARY "aftercare_v7"
#define AC_STORE_KEYS_PER_CUSTOMER 3

static const char ac_store_lua[] =
    "#!lua name=aftercare_v7\n"
    "local function commit(keys, args)\n"
    "  local out, at, n = {}, {}, tonumber(args[1])\n"
    "  local sts = {}\n"
    "  for c = 1, n do sts[c] = keys[3 * c] end\n"
    "  local cur = redis.call('MGET', unpack(sts))\n"
    "  local i = 4\n"
    "  for c = 1, n do\n"
    "    local st, want, v = sts[c], args[i], cur[c]\n"
    "    local ok\n"
    "    if string.sub(want, 1, 1) == 'L' then\n"
    "      ok = redis.call('TYPE', st)['ok'] == 'hash' and\n"
    "        (redis.call('HGET', st, 'v') or '0') == string.sub(want, 2)\n"
    "    elseif v then\n"
    "      ok = string.sub(v, 3, 10) == want and want ~= ''\n"
    "    else\n"
    "      ok = want == '' and redis.call('EXISTS', st) == 0\n"
    "    end\n"
    "    at[c] = i\n"
    "    if ok then out[c] = 0 else out[c] = 1 end\n"
    "    i = i + 6 + tonumber(args[i + 5]) * 2\n"
    "    i = i + 1 + tonumber(args[i])\n"
    "  end\n"
    "  if args[3] == '1' then\n"
    "    local off, kept = 0, 0\n"
    "    for c = 1, n do\n"
    "      local len = tonumber(args[at[c] + 4])\n"
    "      if len > 0 and out[c] == 0 then kept = kept + 1\n"
    "      elseif len > 0 then redis.call('SETRANGE', keys[1], off, '\\0') end\n"
    "      off = off + len\n"
    "    end\n"
    "    if kept == 0 then\n"
    "      redis.call('DEL', keys[1])\n"
    "    else\n"
    "      local t = redis.call('TIME')\n"
    "      redis.call('ZADD', keys[2], t[1] * 1000 + math.floor(t[2] / 1000), args[2])\n"
    "    end\n"
    "  end\n"
    "  local mset, zadd, zrem = {}, {}, {}\n"
    "  for c = 1, n do\n"
    "    if out[c] == 0 then\n"
    "      local k, j = 3 * c, at[c]\n"
    "      local rec, dueat, cid = args[j + 1], args[j + 2], args[j + 3]\n"
    "      if rec ~= '' then mset[#mset + 1] = keys[k]; mset[#mset + 1] = rec end\n"
    "      if dueat == '-' then\n"
    "        local z = zrem[keys[k + 1]] or {}; zrem[keys[k + 1]] = z; z[#z + 1] = cid\n"
    "      elseif dueat ~= '' then\n"
    "        local z = zadd[keys[k + 1]] or {}; zadd[keys[k + 1]] = z\n"
    "        z[#z + 1] = dueat; z[#z + 1] = cid\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  if #mset > 0 then redis.call('MSET', unpack(mset)) end\n"
    "  for due, z in pairs(zrem) do redis.call('ZREM', due, unpack(z)) end\n"
    "  for due, z in pairs(zadd) do redis.call('ZADD', due, unpack(z)) end\n"
    "  for c = 1, n do\n"
    "    if out[c] == 0 then\n"
    "      local j = at[c]\n"
    "      local nk = tonumber(args[j + 5]); local ks = j + 6\n"
    "      local ls = ks + nk * 2; local nl = tonumber(args[ls]); ls = ls + 1\n"
    "      for q = ls, ls + nl - 1 do\n"
    "        local key, member = string.match(args[q], '^(.-)\\n(.*)$')\n"
    "        if key then redis.call('ZREM', key, member) else redis.call('DEL', args[q]) end\n"
    "      end\n"
    "      for q = 0, nk - 1 do\n"
    "        redis.call('HINCRBY', keys[3 * c + 2], args[ks + q * 2], args[ks + q * 2 + 1])\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local function call_done(keys, args)\n"
    "  local v = redis.call('GET', keys[1])\n"
    "  if v then\n"
    "    local first = true\n"
    "    for ob in string.gmatch(v, '[^%z]+') do\n"
    "      if not first and redis.call('EXISTS', ob) == 1 then return 0 end\n"
    "      first = false\n"
    "    end\n"
    "    redis.call('DEL', keys[1])\n"
    "  end\n"
    "  redis.call('SREM', keys[2], args[1])\n"
    "  return 1\n"
    "end\n"
    "local function ack(keys, args)\n"
    "  local i, dropped = 2, 0\n"
    "  for c = 1, tonumber(args[1]) do\n"
    "    local ob, obi = keys[2 * c - 1], keys[2 * c]\n"
    "    local cid, n = args[i], tonumber(args[i + 1])\n"
    "    local s = i + 2\n"
    "    i = s + n\n"
    "    if n > 0 then redis.call('HDEL', ob, unpack(args, s, s + n - 1)) end\n"
    "    if redis.call('EXISTS', ob) == 0 then\n"
    "      local old = string.gsub(ob, '}:o:', '}:c:', 1)\n"
    "      dropped = dropped + redis.call('SREM', obi, cid, old)\n"
    "    end\n"
    "  end\n"
    "  return dropped\n"
    "end\n"
    "local function ewm(keys, args)\n"
    "  for j = 1, #args, 2 do\n"
    "    local cur = tonumber(redis.call('HGET', keys[1], args[j]) or '-1')\n"
    "    if tonumber(args[j + 1]) > cur then redis.call('HSET', keys[1], args[j], args[j + 1]) "
    "end\n"
    "  end\n"
    "  return 0\n"
    "end\n"
    "redis.register_function('ac_commit_v7', commit)\n"
    "redis.register_function('ac_call_done_v7', call_done)\n"
    "redis.register_function('ac_ewm_v7', ewm)\n"
    "redis.register_function('ac_ack_v7', ack)\n";

#endif
