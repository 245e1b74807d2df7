// A Go client of bitrag, generated from proto/bitrag/v1/bitrag.proto with no flags beyond the
// proto's own go_package: health, create, ingest, search by vector, and an error read as the
// standard rich status (google.rpc.BadRequest), as any Go gRPC client reads it.
//
//	go run ./example -target 127.0.0.1:50051
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	bitragv1 "github.com/bitrag/bitrag/clients/go/bitragv1"
)

func vector(values ...float32) []byte {
	b := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func run(target, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, target, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		return err
	}
	defer conn.Close()

	health, err := grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{})
	if err != nil {
		return err
	}
	fmt.Println("health:", health.GetStatus())

	c := bitragv1.NewBitragServiceClient(conn)
	info, err := c.CreateCollection(ctx, &bitragv1.CreateCollectionRequest{Name: name, Dimension: 8, Embedder: "none"})
	if err != nil {
		return err
	}
	fmt.Println("created:", info.GetName(), info.GetDimension())
	_, err = c.Ingest(ctx, &bitragv1.IngestRequest{Collection: name, Records: []*bitragv1.VectorRecord{
		{Id: "a", Vector: vector(1, 0, 0, 0, 0, 0, 0, 0), Text: "first"},
		{Id: "b", Vector: vector(0, 1, 0, 0, 0, 0, 0, 0), Text: "second"},
	}})
	if err != nil {
		return err
	}
	res, err := c.Search(ctx, &bitragv1.SearchRequest{
		Collection: name, Query: &bitragv1.SearchRequest_Vector{Vector: vector(0.9, 0.1, 0, 0, 0, 0, 0, 0)},
		TopK: 1, Mode: bitragv1.SearchMode_SEARCH_MODE_EXACT,
	})
	if err != nil {
		return err
	}
	fmt.Printf("top hit: %s %.3f %s\n", res.GetHits()[0].GetChunkId(), res.GetHits()[0].GetScore(),
		res.GetDiagnostics().GetPath())

	_, err = c.Search(ctx, &bitragv1.SearchRequest{Collection: name, Query: &bitragv1.SearchRequest_Text{Text: "x"}, TopK: 0})
	st, _ := status.FromError(err)
	if st.Code() != codes.InvalidArgument {
		return fmt.Errorf("expected INVALID_ARGUMENT, got %v", err)
	}
	for _, d := range st.Details() {
		if bad, ok := d.(*errdetails.BadRequest); ok {
			fmt.Println("rejected field:", bad.GetFieldViolations()[0].GetField())
		}
	}
	_, err = c.DropCollection(ctx, &bitragv1.DropCollectionRequest{Name: name})
	return err
}

func main() {
	target := flag.String("target", "127.0.0.1:50051", "bitrag server host:port")
	name := flag.String("collection", "go_example", "collection to create (and drop)")
	flag.Parse()
	if err := run(*target, *name); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
