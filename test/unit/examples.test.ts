/**
 * The examples of the OpenAPI document are real: rows of the WB-format demo data set that
 * `npm run dev` serves (seed 1, anchored at 2026-11-20 23:59:59 Moscow time), valid against the
 * schemas they illustrate.
 */
import { describe, expect, it } from "vitest";
import { generateWbDataset } from "../../dev/wildberries/dataset";
import { orderView, orderViewExample, stockRow, stockRowExample } from "../../src/routes/dashboard/schemas";

const dataset = generateWbDataset({ anchor: new Date("2026-11-20T20:59:59Z") });

describe("the spec's examples", () => {
  it("match their schemas", () => {
    expect(orderView.parse(orderViewExample)).toEqual(orderViewExample);
    expect(stockRow.parse(stockRowExample)).toEqual(stockRowExample);
  });

  it("are an order and a stock row of the demo data set, as the API renders them", () => {
    const order = dataset.orders.find((o) => o.srid === orderViewExample.srid);
    expect(order).toMatchObject({
      nmId: orderViewExample.nmId,
      barcode: orderViewExample.barcode,
      supplierArticle: orderViewExample.supplierArticle,
      techSize: orderViewExample.techSize,
      warehouseName: orderViewExample.warehouseName,
      regionName: orderViewExample.regionName,
      totalPrice: orderViewExample.totalPrice,
      priceWithDisc: orderViewExample.priceWithDisc,
      finishedPrice: orderViewExample.finishedPrice,
      isCancel: false,
    });
    expect(`${order?.date}+03:00`).toBe(orderViewExample.date);
    const stock = dataset.stocks.find((s) => s.barcode === stockRowExample.barcode && s.warehouseName === stockRowExample.warehouseName);
    expect(stock).toMatchObject({
      nmId: stockRowExample.nmId,
      techSize: stockRowExample.techSize,
      quantity: stockRowExample.quantity,
      Price: stockRowExample.price,
      Discount: stockRowExample.discount,
    });
  });
});
