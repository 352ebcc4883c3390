package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/internal/imports"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// importService is what the import routes need.
type importService interface {
	Start(ctx context.Context, format string, fileName *string, data string) (store.ImportJob, error)
	Job(ctx context.Context, id string) (store.ImportJob, error)
}

type importHandlers struct {
	svc importService
}

type importBody struct {
	Format   *string `json:"format"`
	Data     *string `json:"data"`
	FileName *string `json:"fileName"`
}

// start stores the upload and starts its import workflow; poll the job for progress.
func (h *importHandlers) start(c *gin.Context) error {
	var body importBody
	if err := bindJSONMax(c, &body, maxImportBody); err != nil {
		return err
	}
	v := &ValidationError{}
	if body.Format == nil || (*body.Format != "csv" && *body.Format != "json") {
		v.Add("format", "invalid_enum_value", "must be csv or json")
	}
	if body.Data == nil || *body.Data == "" {
		v.Add("data", "too_small", "is required")
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	job, err := h.svc.Start(c, *body.Format, body.FileName, *body.Data)
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, gin.H{"jobId": job.ID, "status": job.Status})
	return nil
}

func (h *importHandlers) get(c *gin.Context) error {
	id, err := uuidParam(c, "jobId")
	if err != nil {
		return err
	}
	j, err := h.svc.Job(c, id)
	if errors.Is(err, imports.ErrNotFound) {
		return &HTTPError{Status: http.StatusNotFound, Message: "Import job not found"}
	} else if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"id": j.ID, "status": j.Status, "totalRows": j.TotalRows, "processedRows": j.ProcessedRows,
		"failedRows": j.FailedRows, "errors": j.Errors, "createdAt": journey.Timestamp(j.CreatedAt), "updatedAt": journey.Timestamp(j.UpdatedAt)})
	return nil
}
