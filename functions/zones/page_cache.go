package zones

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// maxPageMaxAge caps the max-age that clients and proxies may cache a page
// for, in seconds, whatever the server-side TTL.
const maxPageMaxAge = 60

// cacheKey identifies one rendering of a zone's page.
type cacheKey struct {
	zone    string
	channel Channel
	lang    string
}

// cachedPage is a rendered page with its response headers prepared, so a
// cache hit writes bytes without encoding anything.
type cachedPage struct {
	body    []byte
	etag    string
	expires time.Time

	// refreshAt is when a hit starts rendering the entry's successor in
	// the background: three quarters of the way from rendering to expiry.
	// A page in steady demand is then replaced before it expires, and no
	// reader waits for the database. refreshing is set once a hit has
	// started that rendering.
	refreshAt  time.Time
	refreshing atomic.Bool

	etagHeader   []string
	lengthHeader []string
}

func newCachedPage(body []byte, rendered, expires time.Time) *cachedPage {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return &cachedPage{
		body:         body,
		etag:         etag,
		expires:      expires,
		refreshAt:    rendered.Add(expires.Sub(rendered) * 3 / 4),
		etagHeader:   []string{etag},
		lengthHeader: []string{strconv.Itoa(len(body))},
	}
}

// claimRefresh reports whether the caller, a hit at now, should render
// the entry's successor: the refresh time has come and no other hit has
// claimed it. An entry whose refresh failed is not refreshed again and
// expires as usual.
func (e *cachedPage) claimRefresh(now time.Time) bool {
	return !now.Before(e.refreshAt) && !e.refreshing.Load() && e.refreshing.CompareAndSwap(false, true)
}

// pageCache keeps rendered pages in memory, keyed by zone, channel and
// language.
//
// Reads load an immutable map through an atomic pointer, so concurrent hits
// share no lock. put copies the map, which is cheap because there are at
// most zones × channels × languages entries and puts happen once per entry
// and TTL.
//
// Every committed write drops all entries (invalidate). A rendering that
// started before a write must not be stored after it, so put only stores an
// entry when the generation it was read under is still current.
type pageCache struct {
	ttl time.Duration

	entries atomic.Pointer[map[cacheKey]*cachedPage]

	mu         sync.Mutex // serialises put and invalidate
	generation uint64

	// renders collapses concurrent misses of one key into one rendering.
	renders singleflight.Group
}

func newPageCache(ttl time.Duration) *pageCache {
	c := &pageCache{ttl: ttl}
	c.entries.Store(&map[cacheKey]*cachedPage{})
	return c
}

// get returns the entry for key when it has not expired at now.
func (c *pageCache) get(key cacheKey, now time.Time) (*cachedPage, bool) {
	e, ok := (*c.entries.Load())[key]
	if !ok || !now.Before(e.expires) {
		return nil, false
	}
	return e, true
}

// currentGeneration returns the generation to pass to put.
func (c *pageCache) currentGeneration() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.generation
}

// put stores e unless caching is off or a write has happened since gen
// was read.
func (c *pageCache) put(key cacheKey, gen uint64, e *cachedPage) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.generation {
		return
	}
	old := *c.entries.Load()
	next := make(map[cacheKey]*cachedPage, len(old)+1)
	maps.Copy(next, old)
	next[key] = e
	c.entries.Store(&next)
}

// invalidate drops every entry.
func (c *pageCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	c.entries.Store(&map[cacheKey]*cachedPage{})
}

// expiry returns when a rendering made at now goes stale: after the TTL, or
// at the next template window boundary if that comes first.
func (c *pageCache) expiry(now time.Time, validUntil *time.Time) time.Time {
	exp := now.Add(c.ttl)
	if validUntil != nil && validUntil.Before(exp) {
		exp = *validUntil
	}
	return exp
}

// cacheControlValues contains the Cache-Control header for each max-age from 0
// to maxPageMaxAge, so a cache hit formats nothing.
var cacheControlValues = func() [maxPageMaxAge + 1][]string {
	var out [maxPageMaxAge + 1][]string
	for i := range out {
		out[i] = []string{"public, max-age=" + strconv.Itoa(i)}
	}
	return out
}()

// maxAge returns the seconds from now until expires, from 0 to
// maxPageMaxAge.
func maxAge(now, expires time.Time) int {
	secs := int(expires.Sub(now) / time.Second)
	return min(max(secs, 0), maxPageMaxAge)
}
