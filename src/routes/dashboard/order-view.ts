/**
 * The order line as the dashboard shows it, shared by the recent list and the detail view:
 * the selected columns (the product name joined from `products`) and the row → API mapping.
 */
import { orders, products } from "../../core/db/schema";
import { toMoscowDateTime } from "../../core/time";
import type { OrderView } from "./schemas";

/** Columns of {@link OrderView}; select them from `orders` left-joined with `products`. */
export const orderColumns = {
  srid: orders.srid,
  date: orders.date,
  nmId: orders.nmId,
  name: products.name,
  supplierArticle: orders.supplierArticle,
  techSize: orders.techSize,
  barcode: orders.barcode,
  warehouseName: orders.warehouseName,
  regionName: orders.regionName,
  totalPrice: orders.totalPrice,
  discountPercent: orders.discountPercent,
  spp: orders.spp,
  finishedPrice: orders.finishedPrice,
  priceWithDisc: orders.priceWithDisc,
  isCancel: orders.isCancel,
  cancelDate: orders.cancelDate,
};

/** A selected row in API form: timestamps in Moscow time. */
export function toOrderView(row: OrderView): OrderView {
  return { ...row, date: toMoscowDateTime(row.date), cancelDate: row.cancelDate === null ? null : toMoscowDateTime(row.cancelDate) };
}
