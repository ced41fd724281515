package i18n

import (
	"io/fs"
	"testing/fstest"
)

// fsMap is a file system of small text files, for tests.
type fsMap map[string]string

func (m fsMap) Open(name string) (fs.File, error) {
	mfs := fstest.MapFS{}
	for k, v := range m {
		mfs[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return mfs.Open(name)
}
