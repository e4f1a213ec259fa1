//go:build !(linux || darwin)

package capture

import "os"

func mapFile(*os.File) (data []byte, unmap func(), ok bool) { return nil, nil, false }
