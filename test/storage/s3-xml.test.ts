import { describe, expect, it } from "vitest";
import { decodeEntities, decodeUrlKey, parseErrorBody, parseListPage } from "../../src/storage/s3/s3-xml.js";

/** A ListObjectsV2 page as S3 writes it (one line, namespace on the root). */
function page(body: string, top = ""): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Name>bucket</Name><Prefix>docker/</Prefix>${top}<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>` +
    `<Delimiter>/</Delimiter>${body}</ListBucketResult>`
  );
}

function contents(key: string, size = 71, modified = "2024-05-06T07:08:09.123Z"): string {
  return (
    `<Contents><Key>${key}</Key><LastModified>${modified}</LastModified><ETag>&quot;abc&quot;</ETag>` +
    `<Size>${size}</Size><Owner><ID>id</ID><DisplayName>x</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>`
  );
}

describe("parseListPage", () => {
  it("reads objects, common prefixes and the end of the listing", () => {
    const xml = page(
      contents("docker/a/link") + contents("docker/b/data", 1234) +
        "<CommonPrefixes><Prefix>docker/registry/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>docker/z/</Prefix></CommonPrefixes>",
      "<IsTruncated>false</IsTruncated>",
    );
    expect(parseListPage(xml)).toEqual({
      objects: [
        { key: "docker/a/link", size: 71, modifiedMs: Date.UTC(2024, 4, 6, 7, 8, 9, 123) },
        { key: "docker/b/data", size: 1234, modifiedMs: Date.UTC(2024, 4, 6, 7, 8, 9, 123) },
      ],
      prefixes: ["docker/registry/", "docker/z/"],
      truncated: false,
    });
  });

  it("gives the continuation token of a truncated page, not the token it was asked with", () => {
    const xml = page(contents("k"), "<ContinuationToken>old</ContinuationToken><IsTruncated>true</IsTruncated><NextContinuationToken>1/ab+c==</NextContinuationToken>");
    expect(parseListPage(xml)).toMatchObject({ truncated: true, nextToken: "1/ab+c==" });
  });

  it("reads an empty listing (the top-level Prefix is not a common prefix)", () => {
    const xml = page("", "<IsTruncated>false</IsTruncated>").replace("<Prefix>docker/</Prefix>", "<Prefix/>");
    expect(parseListPage(xml)).toEqual({ objects: [], prefixes: [], truncated: false });
  });

  it("decodes entities in keys and tokens", () => {
    const xml = page(contents("a&amp;b&lt;c&gt;&quot;d&apos;&#233;&#x1F600;"), "<IsTruncated>true</IsTruncated><NextContinuationToken>x&amp;y</NextContinuationToken>");
    const parsed = parseListPage(xml);
    expect(parsed.objects[0]!.key).toBe("a&b<c>\"d'é😀");
    expect(parsed.nextToken).toBe("x&y");
  });

  it("URL-decodes keys and prefixes when the page says EncodingType url", () => {
    const xml = page(
      contents("dir/a%20b%2Bc%25d%E2%82%AC+e") + "<CommonPrefixes><Prefix>dir/sp+ace%2F/</Prefix></CommonPrefixes><EncodingType>url</EncodingType>",
      "<IsTruncated>false</IsTruncated>",
    );
    const parsed = parseListPage(xml);
    expect(parsed.objects[0]!.key).toBe("dir/a b+c%d€ e");
    expect(parsed.prefixes).toEqual(["dir/sp ace//"]);
  });

  it("leaves keys alone without EncodingType url", () => {
    expect(parseListPage(page(contents("a%20b+c"))).objects[0]!.key).toBe("a%20b+c");
  });

  it("reads a page of a thousand entries in linear time", () => {
    const body = Array.from({ length: 1000 }, (_, i) => contents(`docker/registry/v2/blobs/sha256/${String(i).padStart(64, "0")}/data`)).join("");
    const xml = page(body, "<IsTruncated>true</IsTruncated><NextContinuationToken>t</NextContinuationToken>");
    const started = performance.now();
    for (let i = 0; i < 20; i++) parseListPage(xml);
    expect(parseListPage(xml).objects).toHaveLength(1000);
    expect((performance.now() - started) / 20).toBeLessThan(20);
  });

  it("refuses what is not a listing, and an entry cut short", () => {
    expect(() => parseListPage("<html><body>Bad gateway</body></html>")).toThrow(/not a ListBucketResult: <html>/);
    expect(() => parseListPage(page("<Contents><Key>a</Key>"))).toThrow(/unterminated <Contents>/);
    expect(() => parseListPage(page("<Contents><Size>1</Size></Contents>"))).toThrow(/without <Key>/);
  });
});

describe("parseErrorBody", () => {
  it("reads Code and Message, decoding entities", () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The key &quot;a&amp;b&quot; does not exist.</Message>' +
      "<Key>a&amp;b</Key><RequestId>tx1</RequestId><HostId>h</HostId></Error>";
    expect(parseErrorBody(xml)).toEqual({ code: "NoSuchKey", message: 'The key "a&b" does not exist.' });
  });

  it("reads a body without Message (radosgw) and gives nothing for a proxy's page", () => {
    expect(parseErrorBody("<Error><Code>NoSuchBucket</Code><BucketName>b</BucketName></Error>")).toEqual({ code: "NoSuchBucket" });
    expect(parseErrorBody("<html>502 Bad Gateway</html>")).toEqual({});
    expect(parseErrorBody("")).toEqual({});
  });
});

describe("decoding helpers", () => {
  it("keeps unknown entities and malformed escapes as they are", () => {
    expect(decodeEntities("a &nbsp; &#xFFFFFFF; b")).toBe("a &nbsp; &#xFFFFFFF; b");
    expect(decodeUrlKey("100%")).toBe("100%");
    expect(decodeUrlKey("plain/key")).toBe("plain/key");
  });
});
