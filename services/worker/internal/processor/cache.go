package processor

import (
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/smsconv/smsconv/shared/conversation"
	"github.com/smsconv/smsconv/shared/store"
)

// Cache holds recently committed conversations of this worker. It is safe for concurrent use; a nil
// *Cache caches nothing.
type Cache struct {
	c *lru.Cache[store.Key, entry]
}

type entry struct {
	conv    conversation.Conversation
	version int64
}

// NewCache returns a cache of at most size conversations.
func NewCache(size int) *Cache {
	c, err := lru.New[store.Key, entry](max(size, 1))
	if err != nil {
		panic(err) // only for a size < 1, excluded above
	}
	return &Cache{c: c}
}

func (c *Cache) get(k store.Key) (store.Loaded, bool) {
	if c == nil {
		return store.Loaded{}, false
	}
	e, ok := c.c.Get(k)
	if !ok {
		return store.Loaded{}, false
	}
	return store.Loaded{Conversation: e.conv, Version: e.version, Exists: true}, true
}

func (c *Cache) put(k store.Key, conv conversation.Conversation, version int64) {
	if c != nil {
		c.c.Add(k, entry{conv: conv, version: version})
	}
}

func (c *Cache) remove(k store.Key) {
	if c != nil {
		c.c.Remove(k)
	}
}
