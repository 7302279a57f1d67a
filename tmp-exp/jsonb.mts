import pg from "pg";
const client = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres" });
await client.connect();
const rows = Array.from({ length: 10_000 }, (_, i) => ({
  srid: `${i}.0.0-calibration`, date: `2026-11-${String(1 + (i % 28)).padStart(2, "0")}T12:${String(i % 60).padStart(2, "0")}:00`,
  lastChangeDate: `2026-11-${String(1 + (i % 28)).padStart(2, "0")}T12:${String(i % 60).padStart(2, "0")}:00`,
  nmId: 100_000 + (i % 3_000), supplierArticle: `артикул-${i % 3_000}/белый`, warehouseName: `Склад ${i % 40} Коледино`, regionName: "Московская область",
  oblastOkrugName: "Центральный федеральный округ", countryName: "Россия", brand: "VoltX", subject: "Игрушки", category: "Детям", techSize: "42", barcode: `2000000${i}`,
  totalPrice: 1_000 + (i % 997), discountPercent: 10, spp: i % 30, finishedPrice: 900.5, priceWithDisc: 950.25, isCancel: i % 10 === 0, gNumber: `${i}1234567`, sticker: "",
}));
const text = JSON.stringify(rows);
console.log("payload MB", (Buffer.byteLength(text) / 1e6).toFixed(2));
const rec = `srid text, date timestamp, "lastChangeDate" timestamp, "nmId" bigint, "supplierArticle" text, "warehouseName" text, "regionName" text, "oblastOkrugName" text, "countryName" text, brand text, subject text, category text, "techSize" text, barcode text, "totalPrice" numeric, "discountPercent" int, spp numeric, "finishedPrice" numeric, "priceWithDisc" numeric, "isCancel" boolean, "gNumber" text, sticker text`;
const variants: Record<string, string> = {
  json: `select count(*), sum("totalPrice") from json_to_recordset($1::json) as r(${rec})`,
  jsonb: `select count(*), sum("totalPrice") from jsonb_to_recordset($1::jsonb) as r(${rec})`,
  textjson: `select count(*), sum("totalPrice") from json_to_recordset($1::text::json) as r(${rec})`,
};
const best: Record<string, number> = {};
for (let round = 0; round < 9; round++) {
  for (const [name, q] of Object.entries(variants)) {
    const t = performance.now();
    await client.query(q, [text]);
    const d = performance.now() - t;
    best[name] = Math.min(best[name] ?? Infinity, d);
  }
}
console.log(best);
await client.end();
