-- Each connection waits 1 ms after each response before its next request: a near-constant
-- offered rate (connections / (1 ms + latency)), for latency at a fixed fraction of capacity.
function delay()
  return 1
end
