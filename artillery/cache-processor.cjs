// Counts per-variant cache hits and misses from the x-edgesplit-cache header.
module.exports = {
  countCache(request, response, context, events, next) {
    const status = (response.headers["x-edgesplit-cache"] || "none").toLowerCase();
    events.emit("counter", `cache.${status}`, 1);
    return next();
  },
};
