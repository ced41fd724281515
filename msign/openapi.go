package msign

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPI documents the API; a test checks it against the routes.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPI)
}
