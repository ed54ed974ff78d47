package envelope_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/envelope"
)

// newSession returns a session with fresh keys in mode that expires ttl
// after now.
func newSession(t testing.TB, mode envelope.Mode, now time.Time, ttl time.Duration) *envelope.Session {
	t.Helper()
	var id envelope.SessionID
	_, _ = rand.Read(id[:])
	secret := make([]byte, envelope.SecretSize)
	_, _ = rand.Read(secret)
	keys, err := envelope.DeriveKeys(secret, id, mode)
	if err != nil {
		t.Fatal(err)
	}
	created := time.UnixMilli(now.UnixMilli())
	return envelope.NewSessionForTest(id, mode, "gw-test-1", created, created.Add(ttl), keys)
}

func TestSessionStore_PutGetDelete(t *testing.T) {
	eachStore(t, func(t *testing.T, st stores) {
		ctx := context.Background()
		for _, mode := range modes {
			sess := newSession(t, mode, time.Now(), time.Minute)
			sess.Subject = "user-7"
			if err := st.sessions.Put(ctx, sess); err != nil {
				t.Fatalf("Put: %v", err)
			}

			got, err := st.sessions.Get(ctx, sess.ID)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if got.ID != sess.ID || got.Mode != mode || got.KID != sess.KID || got.Subject != "user-7" ||
				!got.CreatedAt.Equal(sess.CreatedAt) || !got.ExpiresAt.Equal(sess.ExpiresAt) {
				t.Errorf("Get = %+v, want %+v", got, sess)
			}
			if !bytes.Equal(envelope.KeyBlock(got.Keys()), envelope.KeyBlock(sess.Keys())) {
				t.Error("stored keys differ")
			}

			if err := st.sessions.Delete(ctx, sess.ID); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := st.sessions.Get(ctx, sess.ID); !errors.Is(err, envelope.ErrSessionNotFound) {
				t.Errorf("Get after Delete: err = %v, want ErrSessionNotFound", err)
			}
			if err := st.sessions.Delete(ctx, sess.ID); err != nil {
				t.Errorf("second Delete: %v", err)
			}
		}
	})
}

func TestSessionStore_Expiry(t *testing.T) {
	ctx := context.Background()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock(time.Now())
		store := envelope.NewMemorySessionStore(envelope.WithClock(clock.Now))
		sess := newSession(t, envelope.ModeGCM, clock.Now(), time.Minute)
		_ = store.Put(ctx, sess)

		clock.Advance(time.Minute - time.Millisecond)
		if _, err := store.Get(ctx, sess.ID); err != nil {
			t.Fatalf("Get before expiry: %v", err)
		}
		clock.Advance(time.Millisecond)
		if _, err := store.Get(ctx, sess.ID); !errors.Is(err, envelope.ErrSessionNotFound) {
			t.Errorf("Get at expiry: err = %v, want ErrSessionNotFound", err)
		}
		if n := store.Len(); n != 0 {
			t.Errorf("Len after expiry = %d, want 0", n)
		}
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		st := redisStores(t)
		sess := newSession(t, envelope.ModeGCM, time.Now(), 150*time.Millisecond)
		if err := st.sessions.Put(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if _, err := st.sessions.Get(ctx, sess.ID); err != nil {
			t.Fatalf("Get before expiry: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
		if _, err := st.sessions.Get(ctx, sess.ID); !errors.Is(err, envelope.ErrSessionNotFound) {
			t.Errorf("Get after expiry: err = %v, want ErrSessionNotFound", err)
		}
	})
}

func TestMemorySessionStore_EvictsWhenFull(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(time.Now())
	// 64 entries is one per shard.
	store := envelope.NewMemorySessionStore(envelope.WithMaxEntries(64), envelope.WithClock(clock.Now))
	var last *envelope.Session
	for i := 0; i < 1000; i++ {
		last = newSession(t, envelope.ModeGCM, clock.Now(), time.Duration(i+1)*time.Minute)
		if err := store.Put(ctx, last); err != nil {
			t.Fatal(err)
		}
	}
	if n := store.Len(); n > 64 {
		t.Errorf("Len = %d, want at most 64", n)
	}
	if _, err := store.Get(ctx, last.ID); err != nil {
		t.Errorf("newest session was evicted: %v", err)
	}
}

func TestNonceStore_Claim(t *testing.T) {
	eachStore(t, func(t *testing.T, st stores) {
		ctx := context.Background()
		var sid, other envelope.SessionID
		var nonce envelope.Nonce
		_, _ = rand.Read(sid[:])
		_, _ = rand.Read(other[:])
		_, _ = rand.Read(nonce[:])

		claims := []struct {
			name string
			id   envelope.SessionID
			want bool
		}{
			{"first use", sid, true},
			{"replay", sid, false},
			{"other session", other, true},
			{"session open scope", envelope.SessionID{}, true},
			{"session open replay", envelope.SessionID{}, false},
		}
		for _, c := range claims {
			fresh, err := st.nonces.Claim(ctx, c.id, nonce, time.Minute)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if fresh != c.want {
				t.Errorf("%s: Claim = %v, want %v", c.name, fresh, c.want)
			}
		}
	})
}

func TestNonceStore_Expiry(t *testing.T) {
	ctx := context.Background()
	var sid envelope.SessionID
	var nonce envelope.Nonce
	_, _ = rand.Read(nonce[:])

	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock(time.Now())
		store := envelope.NewMemoryNonceStore(envelope.WithClock(clock.Now))
		_, _ = store.Claim(ctx, sid, nonce, time.Minute)
		clock.Advance(time.Minute - time.Nanosecond)
		if fresh, _ := store.Claim(ctx, sid, nonce, time.Minute); fresh {
			t.Error("nonce claimable again before its TTL")
		}
		clock.Advance(time.Nanosecond)
		if fresh, _ := store.Claim(ctx, sid, nonce, time.Minute); !fresh {
			t.Error("nonce not claimable after its TTL")
		}
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		st := redisStores(t)
		if fresh, err := st.nonces.Claim(ctx, sid, nonce, 150*time.Millisecond); err != nil || !fresh {
			t.Fatalf("first Claim = %v, %v", fresh, err)
		}
		if fresh, _ := st.nonces.Claim(ctx, sid, nonce, 150*time.Millisecond); fresh {
			t.Error("nonce claimable again before its TTL")
		}
		time.Sleep(300 * time.Millisecond)
		if fresh, err := st.nonces.Claim(ctx, sid, nonce, 150*time.Millisecond); err != nil || !fresh {
			t.Errorf("Claim after the TTL = %v, %v; want true", fresh, err)
		}
		if _, err := st.nonces.Claim(ctx, sid, nonce, 0); err == nil {
			t.Error("Claim with TTL 0 succeeded; Redis would keep the nonce forever")
		}
	})
}

func TestMemoryNonceStore_FullNeverEvicts(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock(time.Now())
	store := envelope.NewMemoryNonceStore(envelope.WithMaxEntries(64), envelope.WithClock(clock.Now))
	var sid envelope.SessionID

	var claimed []envelope.Nonce
	full := 0
	for i := 0; i < 2000; i++ {
		var n envelope.Nonce
		_, _ = rand.Read(n[:])
		fresh, err := store.Claim(ctx, sid, n, time.Minute)
		switch {
		case errors.Is(err, envelope.ErrStoreFull):
			full++
		case err != nil:
			t.Fatal(err)
		case fresh:
			claimed = append(claimed, n)
		}
	}
	if full == 0 || len(claimed) > 64 {
		t.Fatalf("claimed %d, rejected %d as full; want at most 64 claimed and some rejected", len(claimed), full)
	}
	for _, n := range claimed {
		if fresh, _ := store.Claim(ctx, sid, n, time.Minute); fresh {
			t.Fatal("a claimed nonce became claimable again while the store was full")
		}
	}

	// Once the nonces expire, the store has room again.
	clock.Advance(time.Minute + time.Second)
	var n envelope.Nonce
	_, _ = rand.Read(n[:])
	if fresh, err := store.Claim(ctx, sid, n, time.Minute); err != nil || !fresh {
		t.Errorf("Claim after expiry = %v, %v; want true", fresh, err)
	}
}

func TestSession_BinaryEncoding(t *testing.T) {
	for _, mode := range modes {
		sess := newSession(t, mode, time.Now(), time.Hour)
		sess.Subject = "用户-1"
		data, err := sess.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got envelope.Session
		if err := got.UnmarshalBinary(data); err != nil {
			t.Fatalf("%s: UnmarshalBinary: %v", mode, err)
		}
		if got.ID != sess.ID || got.Subject != sess.Subject || got.Mode != mode || !got.ExpiresAt.Equal(sess.ExpiresAt) {
			t.Errorf("%s: decoded %v, want %v", mode, &got, sess)
		}

		bad := map[string][]byte{
			"empty":         nil,
			"wrong version": append([]byte{9}, data[1:]...),
			"truncated":     data[:len(data)-1],
			"trailing byte": append(append([]byte(nil), data...), 0),
			"unknown mode":  bytes.Replace(data, []byte(mode), []byte("ecb"+string(mode)[3:]), 1),
		}
		for name, input := range bad {
			if err := new(envelope.Session).UnmarshalBinary(input); err == nil {
				t.Errorf("%s: UnmarshalBinary accepted %s input", mode, name)
			}
		}
	}
}

func TestSession_NeverPrintsKeys(t *testing.T) {
	sess := newSession(t, envelope.ModeGCM, time.Now(), time.Hour)
	block := envelope.KeyBlock(sess.Keys())

	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("session", "session", sess)
	outputs := map[string]string{
		"String": sess.String(),
		"%+v":    fmt.Sprintf("%+v", *sess),
		"slog":   logged.String(),
	}
	for name, text := range outputs {
		for i := 0; i+4 <= len(block); i += 4 {
			if strings.Contains(text, hex.EncodeToString(block[i:i+4])) || strings.Contains(text, string(block[i:i+4])) {
				t.Errorf("%s output contains key bytes at offset %d: %s", name, i, text)
				break
			}
		}
	}
	if !strings.Contains(logged.String(), sess.ID.String()) {
		t.Errorf("slog output %s lacks the session ID", logged.String())
	}
}
